//! The main job: a simulated Hyper-V host with the PF miniport and one guest per VF with the
//! VF miniport, a series of host-side changes, and the backchannel timeline they cause.
//!
//!     cargo run --release -- [--vfs N] [--changes N] [--seed N] [--delay P] [--log] [--images]
//!
//! `--images` runs the cross-built `.sys` images instead of the host-linked drivers (x86_64
//! Linux); host changes then go through the PF's OIDs only.
//!
//! The host brings each VF up through the documented sequence (`sim::host_flow`: switch,
//! VF, VPort, filters moved onto it, VPCI exposure, the guest's VF miniport), a VM's MAC and
//! VLAN changes arrive as receive filters on its VF's VPort (the real trigger), and at the end
//! every VF is torn down in the documented order and the switch deleted.
use common::blocks::{ConfigBlock, MacVlanBlock, PolicyBlock, VfStatusBlock};
use common::oid::RequestKind;
use sim::host_flow::{HostFlow, VmVf};
use sim::timeline::Event;
use sim::{Config, World, mac_text};
use std::process::ExitCode;

struct Options {
    vfs: u16,
    changes: u32,
    seed: u64,
    delay: f64,
    log: bool,
    images: bool,
}

const USAGE: &str = "usage: sriov-sim [--vfs N (1..=256, default 4)] [--changes N (default 8)] [--seed N (default 1)] [--delay P (0..1, default 0.25)] [--log] [--images]";

fn parse() -> Result<Options, String> {
    let mut o = Options {
        vfs: 4,
        changes: 8,
        seed: 1,
        delay: 0.25,
        log: false,
        images: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--vfs" => o.vfs = value("--vfs")?.parse().map_err(|e| format!("--vfs: {e}"))?,
            "--changes" => {
                o.changes = value("--changes")?
                    .parse()
                    .map_err(|e| format!("--changes: {e}"))?
            }
            "--seed" => {
                o.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--delay" => {
                o.delay = value("--delay")?
                    .parse()
                    .map_err(|e| format!("--delay: {e}"))?
            }
            "--log" => o.log = true,
            "--images" => o.images = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if o.vfs == 0 || o.vfs as usize > pf_miniport::MAX_VFS {
        return Err(format!("--vfs must be 1..={}", pf_miniport::MAX_VFS));
    }
    if !(0.0..1.0).contains(&o.delay) {
        return Err("--delay must be in [0, 1)".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "SR-IOV backchannel simulation: {} VF(s), {} change(s), seed {}, delivery delay {}",
        o.vfs, o.changes, o.seed, o.delay
    );
    println!("host: PF miniport on the physical function; guests: one VF miniport each\n");
    let cfg = Config {
        seed: o.seed,
        delivery_delay: o.delay,
        echo_log: o.log,
        ..Config::default()
    };
    let w = if o.images {
        image_world(cfg)
    } else {
        Ok(World::new(cfg))
    };
    let w = match w {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(s) = w.load_pf() {
        eprintln!("the PF failed to initialize: {s:#x}");
        return ExitCode::FAILURE;
    }
    // The documented host sequence brings every VF up in its guest.
    let mut flow = HostFlow::new(&w);
    let mut vms: Vec<VmVf> = match flow.start(o.vfs) {
        Ok(vms) => vms,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    w.settle();
    if o.images {
        println!(
            "drivers: the cross-built pf_miniport.sys and vf_miniport.sys, loaded into the simulator\n"
        );
    }
    print_new(&w, &mut 0);
    let mut printed = w.timeline().len();

    // Change kinds; the images are driven through NDIS only, so they get the ones with an OID.
    let kinds: &[u32] = if o.images {
        &[0, 1, 2, 6]
    } else {
        &[0, 1, 2, 3, 4, 5, 6]
    };
    let mut rng = sim::rng::Rng::new(o.seed ^ 0x5EED);
    for i in 0..o.changes {
        let vf = rng.below(o.vfs as u64) as u16;
        println!("\n--- change {} ---", i + 1);
        match kinds[i as usize % kinds.len()] {
            0 => {
                let mac = [0x02, 0x15, 0x5D, 0xAA, (i >> 8) as u8, i as u8];
                let vlan = 100 + (i % 3000) as u16;
                set_mac_vlan(
                    &w,
                    &mut flow,
                    &mut vms[vf as usize],
                    mac,
                    vlan,
                    format!("switch sets VF {vf} MAC {} VLAN {vlan}", mac_text(&mac)),
                );
            }
            1 => set_link(&w, o.images, false, 0, 1500, "hardware: link down"),
            2 => set_link(
                &w,
                o.images,
                true,
                25_000_000_000,
                9000,
                "hardware: link up at 25 Gb/s, MTU 9000",
            ),
            3 => {
                let policy = PolicyBlock {
                    flags: PolicyBlock::SPOOF_CHECK | PolicyBlock::TRUSTED,
                    max_tx_rate_mbps: 5000,
                    queue_pairs: 4,
                };
                w.host_change(
                    format!("IHV policy for VF {vf}: trusted, 5 Gb/s cap, 4 queue pairs"),
                    |pf| pf.set_vf_policy(vf, policy),
                )
                .ok();
            }
            4 => {
                // One transaction over two blocks: the VF must apply both or neither.
                let mac = [0x02, 0x15, 0x5D, 0xBB, 0x00, i as u8];
                let staged = [
                    pf_miniport::Staged::of(&MacVlanBlock {
                        mac,
                        vlan_id: 42,
                        priority: 3,
                    })
                    .expect("valid block"),
                    pf_miniport::Staged::of(&PolicyBlock {
                        flags: PolicyBlock::SPOOF_CHECK,
                        max_tx_rate_mbps: 1000,
                        queue_pairs: 2,
                    })
                    .expect("valid block"),
                ];
                w.host_change(
                    format!(
                        "one transaction for VF {vf}: MAC {} VLAN 42 + policy",
                        mac_text(&mac)
                    ),
                    |pf| pf.set_blocks(vf, &staged),
                )
                .ok();
            }
            5 => {
                // IHV extension data: the first set also announces the block in block 0.
                let id = common::blocks::BlockId::masked(5 + (i % 59) as u8);
                let data = format!("vendor queue layout rev {i}");
                w.host_change(
                    format!("IHV block {} for VF {vf}: {data:?}", id.get()),
                    |pf| pf.set_ihv_block(vf, id, data.as_bytes()),
                )
                .ok();
            }
            _ => {
                // A burst before the guest runs: the virtualization stack coalesces it.
                for k in 0..5u8 {
                    let mac = [0x02, 0x15, 0x5D, 0xCC, k, i as u8];
                    set_mac_vlan(
                        &w,
                        &mut flow,
                        &mut vms[vf as usize],
                        mac,
                        7,
                        format!("burst {}/5: VF {vf} MAC {}", k + 1, mac_text(&mac)),
                    );
                }
            }
        }
        w.settle();
        print_new(&w, &mut printed);
    }

    println!("\n--- end state ---");
    let mut ok = true;
    for vf in w.vf_ids() {
        let check = if o.images {
            w.check_consistent_via_oids(vf)
        } else {
            w.check_consistent(vf)
        };
        ok &= check.is_ok();
        let mac = w
            .vf_mac_via_oid(vf)
            .map(|m| mac_text(&m))
            .unwrap_or_else(|e| e);
        let status = w
            .pf_block_via_oid(vf, VfStatusBlock::id())
            .ok()
            .and_then(|b| VfStatusBlock::decode(&b).ok())
            .map_or(0, |(s, _)| s.applied_generation);
        let detail = match w.vf(vf).map(|a| a.snapshot()) {
            Some(s) => format!(
                "vlan {} mtu {} link {} | reads {} invalidations {}",
                s.applied.vlan_id,
                s.applied.mtu,
                if s.applied.link_up { "up" } else { "down" },
                s.counters.blocks_read,
                s.counters.invalidations
            ),
            None => format!(
                "link indications {}",
                w.vf_sim(vf)
                    .map_or(0, |a| a.link.lock().map_or(0, |l| l.len()))
            ),
        };
        println!(
            "VF {vf}: mac {mac} {detail} | PF sees status generation {status} | {}",
            match &check {
                Ok(()) => "consistent with the PF".to_string(),
                Err(e) => e.clone(),
            }
        );
    }
    println!("\n--- teardown (Virtual Function Teardown Sequence) ---");
    let teardown = vms
        .into_iter()
        .try_for_each(|vm| flow.remove_vm(vm))
        .and_then(|()| flow.delete_switch());
    print_new(&w, &mut printed);
    if let Err(e) = teardown {
        ok = false;
        println!("teardown failed: {e}");
    }
    let v = w.violations();
    if !v.is_empty() {
        ok = false;
        println!("driver verifier violations:");
        for m in v {
            println!("  {m}");
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A VM's MAC/VLAN change as the virtual switch makes it: a receive filter on its VF's VPort
/// (for the host-linked PF and the image alike).
fn set_mac_vlan(
    w: &World,
    flow: &mut HostFlow<'_>,
    vm: &mut VmVf,
    mac: [u8; 6],
    vlan: u16,
    what: String,
) {
    w.machine().record(Event::HostChange { what });
    if let Err(e) = flow.change_vm_address(vm, mac, Some(vlan)) {
        w.machine().violation(e);
    }
}

/// A link change from the hardware: the PF's API, or its management OID for a loaded image.
fn set_link(w: &World, images: bool, up: bool, speed: u64, mtu: u32, what: &str) {
    if images {
        w.machine().record(Event::HostChange { what: what.into() });
        let mut payload = pf_miniport::management::SetLink::encode(up, mtu, speed);
        let n = payload.len() as u32;
        w.oid(
            w.pf_sim(),
            RequestKind::Set,
            pf_miniport::management::OID_REF_SET_LINK,
            &mut payload,
            n,
            n,
        );
    } else {
        w.host_change(what, |pf| pf.set_link(up, speed, mtu)).ok();
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn image_world(cfg: Config) -> Result<World, String> {
    println!(
        "cross-building the .sys images (cargo build --release --target x86_64-pc-windows-msvc)..."
    );
    World::with_both_images(cfg)
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn image_world(_cfg: Config) -> Result<World, String> {
    Err("--images needs an x86_64 Linux host (it maps the Windows images into this process)".into())
}

fn print_new(w: &World, printed: &mut usize) {
    let t = w.timeline();
    for (step, e) in t.iter().skip(*printed) {
        let indent = match e {
            Event::HostChange { .. } | Event::Lifecycle { .. } => "",
            _ => "  ",
        };
        println!("[{step:>4}] {indent}{e}");
    }
    *printed = t.len();
}
