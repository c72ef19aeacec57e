//! The held-NBL check ("nothing changed while NDIS held it", `world/receive.rs`) on the fast
//! digest (`sim::digest`): a driver's write into a receive NBL between its indication and its
//! return is reported whatever it touches — any one byte of a full-size frame, any one bit of
//! the first and last words, an MDL field (even one pointing at an identical copy of the bytes),
//! a NET_BUFFER field, an NBL field — and a write undone before the return is not. (The MDL's
//! MdlFlags, StartVa, ByteOffset and Next were not in the check before this file.)
use common::ffi::*;
use sim::world::ReturnOrder;
use sim::{Config, SimAdapter, World};

fn world() -> World {
    World::boot(Config::default(), 1)
}

fn wire_frame(n: u8) -> Vec<u8> {
    // Unicast to no filter: the PF gets it. 1,514 bytes, none of them alike in a row.
    let mut f: Vec<u8> = (0..1514u32)
        .map(|k| (k.wrapping_mul(131) >> 3) as u8 ^ n)
        .collect();
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0x33, 0x44]);
    f
}

/// Indicates one frame to the PF and returns the NBL NDIS now holds.
fn held(w: &World, a: &SimAdapter, n: u8) -> *mut NET_BUFFER_LIST {
    a.recv.seen.lock().unwrap().clear();
    w.machine().from_wire(&[&wire_frame(n)]);
    let s = a.recv.seen();
    assert_eq!(s.len(), 1, "one indication");
    s[0].nbl as *mut NET_BUFFER_LIST
}

/// Whether returning the NBL reported it changed.
fn caught_at_return(w: &World, a: &SimAdapter) -> bool {
    let before = w.violations().len();
    w.machine().return_received(a, 1, ReturnOrder::Fifo);
    w.violations()[before..]
        .iter()
        .any(|m| m.contains("changed while NDIS held it"))
}

#[test]
fn any_one_byte_of_a_held_frame_is_noticed_and_an_undone_write_is_not() {
    let w = world();
    let a = w.pf_sim();
    for at in 0..1514usize {
        let nbl = held(&w, a, at as u8);
        // SAFETY: the driver's NBL and its buffer, alive; this is the bug under test.
        let p = unsafe {
            (*(*(*nbl).FirstNetBuffer).MdlChain)
                .MappedSystemVa
                .cast::<u8>()
                .add(at)
        };
        // SAFETY: within the 1,514 bytes indicated.
        unsafe { *p ^= 1 << (at % 8) };
        assert!(
            caught_at_return(&w, a),
            "a flip of bit {} at byte {at}",
            at % 8
        );
    }
    for bit in 0..64u32 {
        for at in [0usize, 1506] {
            let nbl = held(&w, a, bit as u8);
            // SAFETY: as above; 8 bytes at `at` within the frame.
            let p = unsafe {
                (*(*(*nbl).FirstNetBuffer).MdlChain)
                    .MappedSystemVa
                    .cast::<u8>()
                    .add(at)
            };
            // SAFETY: as above.
            unsafe {
                p.cast::<u64>()
                    .write_unaligned(p.cast::<u64>().read_unaligned() ^ (1 << bit))
            };
            assert!(caught_at_return(&w, a), "bit {bit} of the word at {at}");
        }
    }
    // The control: written and put back before the return.
    let nbl = held(&w, a, 9);
    // SAFETY: as above.
    unsafe {
        let p = (*(*(*nbl).FirstNetBuffer).MdlChain)
            .MappedSystemVa
            .cast::<u8>()
            .add(700);
        *p ^= 0xFF;
        *p ^= 0xFF;
    }
    assert!(!caught_at_return(&w, a), "an undone write is no change");
}

/// Rewrites field `i` of a held NBL, its NET_BUFFER or its MDL; `None` past the last.
fn poke(i: usize, n: *mut NET_BUFFER_LIST, copy: &mut Vec<u8>) -> Option<&'static str> {
    // SAFETY: the driver's NBL, its NET_BUFFER and first MDL, alive while NDIS holds them; this
    // is the bug under test.
    unsafe {
        let b = &mut *(*n).FirstNetBuffer;
        let m = &mut *b.MdlChain;
        Some(match i {
            0 => {
                (*n).Context = 8 as *mut _;
                "NBL Context"
            }
            1 => {
                (*n).ParentNetBufferList = n;
                "NBL ParentNetBufferList"
            }
            2 => {
                (*n).MiniportReserved.0[0] = 0x10 as *mut _;
                "NBL MiniportReserved[0]"
            }
            3 => {
                (*n).MiniportReserved.0[1] = 0x10 as *mut _;
                "NBL MiniportReserved[1]"
            }
            4 => {
                (*n).SourceHandle = 0x10 as *mut _;
                "NBL SourceHandle"
            }
            5 => {
                (*n).NblFlags ^= 0x100;
                "NBL NblFlags"
            }
            6 => {
                (*n).Flags ^= 1;
                "NBL Flags"
            }
            7 => {
                (*n).Status = NDIS_STATUS_FAILURE;
                "NBL Status"
            }
            8 => {
                (*n).NetBufferListInfo[4] = 0x70 as *mut _;
                "NBL 802.1Q info"
            }
            9 => {
                (*n).NetBufferListInfo[NET_BUFFER_LIST_INFO_COUNT_630 - 1] = 0x10 as *mut _;
                "NBL last info slot"
            }
            10 => {
                b.DataLength.DataLength -= 1;
                "NB DataLength"
            }
            11 => {
                b.DataOffset += 1;
                "NB DataOffset"
            }
            12 => {
                b.CurrentMdlOffset += 1;
                b.DataLength.DataLength -= 1;
                "NB CurrentMdlOffset"
            }
            13 => {
                b.MiniportReserved.0[0] = 0x10 as *mut _;
                "NB MiniportReserved"
            }
            14 => {
                m.ByteCount += 1;
                "MDL ByteCount"
            }
            15 => {
                *copy =
                    std::slice::from_raw_parts(m.MappedSystemVa.cast::<u8>(), m.ByteCount as usize)
                        .to_vec();
                m.MappedSystemVa = copy.as_mut_ptr().cast();
                "MDL MappedSystemVa (an identical copy)"
            }
            16 => {
                m.MdlFlags ^= 0x0100;
                "MDL MdlFlags"
            }
            17 => {
                m.StartVa = m.StartVa.cast::<u8>().wrapping_add(0x1000).cast();
                "MDL StartVa"
            }
            18 => {
                m.ByteOffset ^= 0x10;
                "MDL ByteOffset"
            }
            19 => {
                m.Next = m;
                "MDL Next (past DataLength)"
            }
            _ => return None,
        })
    }
}

/// One field of a held NBL, its NET_BUFFER or its MDL rewritten (each in a world of its own:
/// the driver may not survive its own write).
#[test]
fn any_field_of_a_held_nbl_nb_or_mdl_is_noticed() {
    for i in 0.. {
        // Declared first, dropped last: the world may still read the MDL as it ends.
        let mut copy = Vec::new();
        let w = world();
        let a = w.pf_sim();
        let nbl = held(&w, a, 3);
        let Some(what) = poke(i, nbl, &mut copy) else {
            assert_eq!(i, 20, "every field tried");
            break;
        };
        assert!(caught_at_return(&w, a), "{what} rewritten while held");
    }
}
