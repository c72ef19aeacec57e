//! What happened on the backchannel, in order: the main job prints it, tests inspect it.
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Host-side change requested (by a scenario or the main job).
    HostChange {
        what: String,
    },
    /// PF called NdisMInvalidateConfigBlock; the virtualization stack ORed the mask in.
    Invalidate {
        vf: u16,
        mask: u64,
        cache: u64,
    },
    /// Invalidation for a VF nobody holds (freed or never allocated): dropped.
    InvalidateDropped {
        vf: u16,
        mask: u64,
    },
    /// Guest VPCI completed IOCTL_VPCI_INVALIDATE_BLOCK with the cached mask (cache cleared).
    IoctlComplete {
        vf: u16,
        mask: u64,
    },
    /// Guest NDIS sent OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK to the VF miniport.
    OidInvalidate {
        vf: u16,
        mask: u64,
        status: i32,
    },
    /// VF NdisMReadConfigBlock → PF OID_SRIOV_READ_VF_CONFIG_BLOCK.
    Read {
        vf: u16,
        block: u32,
        len: u32,
        status: i32,
    },
    /// VF NdisMWriteConfigBlock → PF OID_SRIOV_WRITE_VF_CONFIG_BLOCK.
    Write {
        vf: u16,
        block: u32,
        len: u32,
        status: i32,
    },
    /// VF applied a consistent configuration (read back from the VF driver).
    Applied {
        vf: u16,
        generation: u32,
        summary: String,
    },
    /// NDIS_STATUS_LINK_STATE indicated by a miniport.
    LinkState {
        who: String,
        up: bool,
        speed_bps: u64,
    },
    Lifecycle {
        who: String,
        what: String,
    },
    Fault {
        what: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::HostChange { what } => write!(f, "host      change: {what}"),
            Event::Invalidate { vf, mask, cache } => {
                write!(
                    f,
                    "PF        NdisMInvalidateConfigBlock(VF {vf}, mask {mask:#06x}) -> vstack cache {cache:#06x}"
                )
            }
            Event::InvalidateDropped { vf, mask } => {
                write!(f, "vstack    VF {vf} not present: mask {mask:#06x} dropped")
            }
            Event::IoctlComplete { vf, mask } => {
                write!(
                    f,
                    "VPCI      IOCTL_VPCI_INVALIDATE_BLOCK completed for VF {vf}, BlockMask {mask:#06x}; re-issued"
                )
            }
            Event::OidInvalidate { vf, mask, status } => write!(
                f,
                "guest     OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK(mask {mask:#06x}) -> VF {vf}: {}",
                status_text(*status)
            ),
            Event::Read {
                vf,
                block,
                len,
                status,
            } => write!(
                f,
                "VF {vf:<5} NdisMReadConfigBlock(block {block}, {len} B) -> PF OID_SRIOV_READ_VF_CONFIG_BLOCK: {}",
                status_text(*status)
            ),
            Event::Write {
                vf,
                block,
                len,
                status,
            } => write!(
                f,
                "VF {vf:<5} NdisMWriteConfigBlock(block {block}, {len} B) -> PF OID_SRIOV_WRITE_VF_CONFIG_BLOCK: {}",
                status_text(*status)
            ),
            Event::Applied {
                vf,
                generation,
                summary,
            } => {
                write!(f, "VF {vf:<5} applied generation {generation}: {summary}")
            }
            Event::LinkState { who, up, speed_bps } => write!(
                f,
                "{who:<9} NDIS_STATUS_LINK_STATE: {} {} Gb/s",
                if *up { "up" } else { "down" },
                speed_bps / 1_000_000_000
            ),
            Event::Lifecycle { who, what } => write!(f, "{who:<9} {what}"),
            Event::Fault { what } => write!(f, "FAULT     {what}"),
        }
    }
}

pub fn status_text(status: i32) -> String {
    let name = common::ffi::status_name(status);
    if name == "?" {
        format!("{:#010x}", status as u32)
    } else {
        name.to_string()
    }
}
