//! The PF's guest-facing OIDs (`OID_SRIOV_READ_VF_CONFIG_BLOCK`,
//! `OID_SRIOV_WRITE_VF_CONFIG_BLOCK`) with arbitrary request type, header, VF, block, length,
//! offset and buffer lengths, through the simulator against a booted PF (3 VFs, one IHV
//! extension block). The information buffer is followed by guard bytes. Contract:
//! - no byte past the declared buffer length is touched, ever;
//! - a refusal changes no block of any VF (nor generations or commits) and writes nothing
//!   into the buffer;
//! - a successful read writes exactly the PF's bytes of that block at BufferOffset, nothing
//!   else, and reports BytesWritten = BufferOffset + Length;
//! - a successful write changes exactly that VF's guest-written block, to the bytes written;
//! - no Verifier-style violation.
//!
//! Input: op byte (bit 0 write, bits 1-2 request type), mode byte (bit 0 a well-formed header,
//! bit 1 small VF/block/offset values, bit 2 a valid status block as the data), VF u16, block
//! u32, length u32, offset u32, input length u16, output length u16, then the data bytes.
#![no_main]

use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use fuzz_support::{Cursor, check_guard, guarded, sealed_block};
use libfuzzer_sys::fuzz_target;
use sim::{Config, World};
use std::cell::RefCell;

const VFS: u16 = 3;
/// A VF id one past the allocated ones is in the small values too.
const VF_IDS: u16 = VFS + 1;
const IHV: BlockId = BlockId::masked(FIRST_IHV_BLOCK + 3);
const MAX_BUF: usize = 512;

thread_local! {
    /// The booted world, reused while requests leave it as booted (dropped after a write
    /// succeeds, so that every input starts from the same state).
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

fn boot() -> World {
    let w = World::boot(
        Config {
            record: false,
            ..Config::default()
        },
        VFS,
    );
    w.pf()
        .set_ihv_block(0, IHV, b"fuzz extension block")
        .expect("IHV block set");
    w.settle();
    assert!(w.violations().is_empty(), "{:?}", w.violations());
    w
}

/// Every block of every VF id (allocated or not), with generations and commits.
type State = (
    Vec<Option<Vec<u8>>>,
    Vec<Option<u32>>,
    Vec<Option<(u32, u32)>>,
);

fn state(w: &World) -> State {
    let pf = w.pf();
    let mut blocks = Vec::new();
    for vf in 0..VF_IDS {
        for i in 0..BLOCK_COUNT as u8 {
            blocks.push(
                pf.vf_block(vf, BlockId::masked(i))
                    .map(|(b, n)| b[..n].to_vec()),
            );
        }
    }
    let gens = (0..VF_IDS).map(|v| pf.vf_generation(v)).collect();
    let commits = (0..VF_IDS).map(|v| pf.vf_committed(v)).collect();
    (blocks, gens, commits)
}

fn block_at(s: &State, vf: u16, id: BlockId) -> Option<&Vec<u8>> {
    s.0[vf as usize * BLOCK_COUNT + id.index()].as_ref()
}

fn run(w: &World, data: &[u8]) -> bool {
    let mut c = Cursor::new(data);
    let op = c.u8();
    let mode = c.u8();
    let write = op & 1 == 1;
    let kind = [
        RequestKind::Query,
        RequestKind::Set,
        RequestKind::Method,
        RequestKind::Method,
    ][(op >> 1) as usize & 3];
    let (mut vf, mut block, mut length, mut offset) = (c.u16(), c.u32(), c.u32(), c.u32());
    if mode & 2 == 2 {
        vf %= VF_IDS;
        block %= BLOCK_COUNT as u32 + 2;
        length %= 160;
        offset %= 200;
    }
    let input_len = c.u16() as usize % (MAX_BUF + 1);
    let output_len = c.u16() as usize % (MAX_BUF + 1);
    let rest = c.rest();
    let declared = match kind {
        RequestKind::Query => output_len,
        RequestKind::Set => input_len,
        RequestKind::Method => input_len.max(output_len),
    };
    // The buffer: parameters, then the data at BufferOffset (or right after them).
    let mut contents = vec![0u8; declared];
    let data_bytes = if mode & 4 == 4 {
        sealed_block(VfStatusBlock::id(), rest, false)
    } else {
        rest.to_vec()
    };
    let at = (offset as usize).min(declared);
    let n = data_bytes.len().min(declared - at);
    contents[at..at + n].copy_from_slice(&data_bytes[..n]);
    let mut params = [0u8; 20];
    if mode & 1 == 1 {
        params[0] = NDIS_OBJECT_TYPE_DEFAULT;
        params[1] = 1;
        params[2..4].copy_from_slice(&20u16.to_le_bytes());
    } else {
        // An arbitrary header: the data's first bytes.
        for (i, b) in rest.iter().take(4).enumerate() {
            params[i] = *b;
        }
    }
    params[4..6].copy_from_slice(&vf.to_le_bytes());
    params[8..12].copy_from_slice(&block.to_le_bytes());
    params[12..16].copy_from_slice(&length.to_le_bytes());
    params[16..20].copy_from_slice(&offset.to_le_bytes());
    let p = params.len().min(declared);
    contents[..p].copy_from_slice(&params[..p]);

    let before = state(w);
    let mut buf = guarded(&contents);
    let oid = if write {
        OID_SRIOV_WRITE_VF_CONFIG_BLOCK
    } else {
        OID_SRIOV_READ_VF_CONFIG_BLOCK
    };
    let o = w.oid(
        w.pf_sim(),
        kind,
        oid,
        &mut buf,
        input_len as u32,
        output_len as u32,
    );
    check_guard(&buf, declared, "the PF");
    assert!(w.violations().is_empty(), "{:?}", w.violations());
    let after = state(w);
    if o.status != NDIS_STATUS_SUCCESS {
        assert_ne!(o.status, NDIS_STATUS_PENDING);
        assert_eq!(after, before, "a refused request changed the PF");
        assert_eq!(
            &buf[..declared],
            &contents[..],
            "a refused request wrote the buffer"
        );
        return false;
    }
    // Accepted: the parameters were well formed and the data area lies in the buffer.
    assert!(declared >= 20 && length > 0 && offset >= 20);
    let end = offset as usize + length as usize;
    let id = BlockId::new(block).expect("an accepted block id is defined");
    if !write {
        assert_eq!(kind, RequestKind::Method, "a read answered as {kind:?}");
        assert!(end <= output_len, "read data past OutputBufferLength");
        assert_eq!(after, before, "a read changed the PF");
        let pf = block_at(&after, vf, id).expect("a block that was read exists");
        assert_eq!(
            &buf[offset as usize..end],
            &pf[..length as usize],
            "not the PF's bytes"
        );
        assert_eq!(&buf[..offset as usize], &contents[..offset as usize]);
        assert_eq!(&buf[end..declared], &contents[end..]);
        assert_eq!(o.bytes_written as usize, end);
        false
    } else {
        assert_ne!(kind, RequestKind::Query);
        assert!(end <= input_len, "write data past the input length");
        assert!(
            GUEST_BLOCKS.contains(id),
            "the guest wrote host block {}",
            id.get()
        );
        assert_eq!(length as usize, descriptor_of(id).len);
        assert_eq!(
            &buf[..declared],
            &contents[..],
            "a write changed its own buffer"
        );
        for v in 0..VF_IDS {
            for i in 0..BLOCK_COUNT as u8 {
                let b = BlockId::masked(i);
                if v == vf && b == id {
                    let stored = block_at(&after, v, b).expect("written block exists");
                    assert_eq!(&stored[..], &contents[offset as usize..end]);
                } else {
                    assert_eq!(block_at(&after, v, b), block_at(&before, v, b));
                }
            }
        }
        assert_eq!(after.1, before.1, "a guest write moved a generation");
        true
    }
}

fuzz_target!(|data: &[u8]| {
    WORLD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let w = slot.get_or_insert_with(boot);
        w.enter_thread();
        if run(w, data) {
            // The PF now holds a written status block: start the next input from a fresh boot.
            *slot = None;
        }
    });
});
