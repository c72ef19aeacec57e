//! What the simulated PnP manager assigns a function ("NDIS_MINIPORT_INIT_PARAMETERS
//! structure": AllocatedResources, "the hardware resources that the PnP manager assigned"), and
//! the IO_INTERRUPT_MESSAGE_INFO that NdisMRegisterInterruptEx hands back for the messages among
//! them. By default: the function's BAR 0 and one message per MSI-X vector of the device model.
//! A test may replace a function's assignment with a hostile one ([`Assignment`],
//! [`Machine::set_assignment`]): no list at all, no memory resource, a BAR too small, the BAR as
//! the wrong resource type, fewer messages than the device has vectors, or none.
use super::Machine;
use super::resources::{DIRQL, FIRST_VECTOR};
use crate::device::Func;
use common::ffi::*;

/// Where an x64 MSI message is written (the local APIC's message address).
const MSI_ADDRESS: i64 = 0xFEE0_0000;

/// A function's AllocatedResources as a test sets it.
#[derive(Clone)]
pub enum Assignment {
    /// AllocatedResources is NULL.
    Null,
    /// These descriptors, in this order, as one CM_PARTIAL_RESOURCE_LIST.
    Descriptors(Vec<CM_PARTIAL_RESOURCE_DESCRIPTOR>),
}

/// A CmResourceTypeMemory descriptor: `len` bytes at `start`.
pub fn memory(start: u64, len: u32) -> CM_PARTIAL_RESOURCE_DESCRIPTOR {
    CM_PARTIAL_RESOURCE_DESCRIPTOR {
        Type: CmResourceTypeMemory,
        ShareDisposition: CmResourceShareDeviceExclusive,
        Flags: CM_RESOURCE_MEMORY_READ_WRITE | CM_RESOURCE_MEMORY_PREFETCHABLE,
        u: CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
            Memory: CM_PARTIAL_RESOURCE_MEMORY {
                Start: start as i64,
                Length: len,
            },
        },
    }
}

/// A translated CmResourceTypeInterrupt descriptor for message `m`
/// ("CM_PARTIAL_RESOURCE_DESCRIPTOR structure": `u.MessageInterrupt.Translated` gives the
/// message's level, vector and affinity); `flags` CM_RESOURCE_INTERRUPT_MESSAGE for an MSI(-X)
/// message, without it a line-based interrupt.
pub fn interrupt(m: u8, flags: u16) -> CM_PARTIAL_RESOURCE_DESCRIPTOR {
    CM_PARTIAL_RESOURCE_DESCRIPTOR {
        Type: CmResourceTypeInterrupt,
        ShareDisposition: CmResourceShareDeviceExclusive,
        Flags: flags,
        u: CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
            Interrupt: CM_PARTIAL_RESOURCE_INTERRUPT {
                Level: u16::from(DIRQL),
                Group: 0,
                Vector: FIRST_VECTOR + u32::from(m),
                Affinity: 1,
            },
        },
    }
}

/// The translated resources of a function: its BAR 0 as one CmResourceTypeMemory descriptor,
/// then one CmResourceTypeInterrupt descriptor flagged CM_RESOURCE_INTERRUPT_MESSAGE per MSI-X
/// message. The pages do not say whether NDIS's AllocatedResources carries one descriptor per
/// message or one for all; one per message is what a translated MSI-X assignment holds
/// (`u.MessageInterrupt.Raw.MessageCount` is the raw form's), and the drivers must not depend on
/// either: they take the message count from `MessageInfoTable`.
pub fn standard(bar: (u64, u32), messages: u8) -> Vec<CM_PARTIAL_RESOURCE_DESCRIPTOR> {
    let mut v = vec![memory(bar.0, bar.1)];
    v.extend((0..messages).map(|m| {
        interrupt(
            m,
            CM_RESOURCE_INTERRUPT_LATCHED | CM_RESOURCE_INTERRUPT_MESSAGE,
        )
    }));
    v
}

/// What an assignment grants: the memory resource that holds the device's register BAR at
/// `device_bar`'s start (start, length), else the first memory resource ((0, 0) if none), and
/// the messages (interrupt descriptors flagged CM_RESOURCE_INTERRUPT_MESSAGE). A function may
/// be assigned more memory ranges than its registers' ("NDIS_MINIPORT_INIT_PARAMETERS
/// structure": AllocatedResources holds every resource the PnP manager assigned; the pages do
/// not order them): the register BAR is the one the device answers at, wherever it is listed.
pub(super) fn granted(
    d: &[CM_PARTIAL_RESOURCE_DESCRIPTOR],
    device_bar: (u64, u32),
) -> ((u64, u32), u8) {
    let memory: Vec<(u64, u32)> = d
        .iter()
        .filter(|d| d.Type == CmResourceTypeMemory)
        // SAFETY: the memory arm is the one a CmResourceTypeMemory descriptor uses.
        .map(|d| unsafe { (d.u.Memory.Start as u64, d.u.Memory.Length) })
        .collect();
    let bar = memory
        .iter()
        .copied()
        .find(|&(start, _)| start == device_bar.0)
        .or_else(|| memory.first().copied())
        .unwrap_or((0, 0));
    let messages = d
        .iter()
        .filter(|d| {
            d.Type == CmResourceTypeInterrupt && d.Flags & CM_RESOURCE_INTERRUPT_MESSAGE != 0
        })
        .count();
    (bar, u8::try_from(messages).unwrap_or(u8::MAX))
}

/// `d` as one CM_PARTIAL_RESOURCE_LIST (8-byte aligned storage).
pub(super) fn resource_list(d: &[CM_PARTIAL_RESOURCE_DESCRIPTOR]) -> Vec<u64> {
    let size = std::mem::size_of::<CM_PARTIAL_RESOURCE_DESCRIPTOR>();
    let first = std::mem::offset_of!(CM_PARTIAL_RESOURCE_LIST, PartialDescriptors);
    // Room for one descriptor even when there is none (the header type declares one).
    let bytes = first + d.len().max(1) * size;
    let mut list = vec![0u64; bytes.div_ceil(8)];
    let head = list.as_mut_ptr().cast::<CM_PARTIAL_RESOURCE_LIST>();
    // SAFETY: the storage holds the header; Version and Revision 1 ("CM_PARTIAL_RESOURCE_LIST
    // structure": "The version number of this structure. This value should be 1.").
    unsafe {
        (*head).Version = 1;
        (*head).Revision = 1;
        (*head).Count = d.len() as u32;
    }
    for (i, desc) in d.iter().enumerate() {
        // SAFETY: descriptor `i` lies inside the storage (sized above); the descriptor is
        // packed(4), written unaligned.
        unsafe {
            list.as_mut_ptr()
                .cast::<u8>()
                .add(first + i * size)
                .cast::<CM_PARTIAL_RESOURCE_DESCRIPTOR>()
                .write_unaligned(*desc)
        };
    }
    list
}

/// The IO_INTERRUPT_MESSAGE_INFO of `messages` connected messages.
pub(super) fn message_table(messages: u8) -> Vec<u64> {
    let n = usize::from(messages).max(1);
    let bytes = std::mem::offset_of!(IO_INTERRUPT_MESSAGE_INFO, MessageInfo)
        + n * std::mem::size_of::<IO_INTERRUPT_MESSAGE_INFO_ENTRY>();
    let mut t = vec![0u64; bytes.div_ceil(8)];
    let head = t.as_mut_ptr().cast::<IO_INTERRUPT_MESSAGE_INFO>();
    // SAFETY: the storage holds the header and `n` entries, 8-byte aligned.
    unsafe {
        (*head).UnifiedIrql = DIRQL;
        (*head).MessageCount = u32::from(messages);
        let first =
            std::ptr::addr_of_mut!((*head).MessageInfo).cast::<IO_INTERRUPT_MESSAGE_INFO_ENTRY>();
        for m in 0..usize::from(messages) {
            first.add(m).write(IO_INTERRUPT_MESSAGE_INFO_ENTRY {
                MessageAddress: MSI_ADDRESS,
                TargetProcessorSet: 1,
                InterruptObject: std::ptr::null_mut(),
                MessageData: FIRST_VECTOR + m as u32,
                Vector: FIRST_VECTOR + m as u32,
                Irql: DIRQL,
                Mode: 1,
                Polarity: 0,
            });
        }
    }
    t
}

impl Machine {
    /// From now on `func` is assigned `a` at each MiniportInitializeEx (tests: a hostile
    /// resource list).
    pub fn set_assignment(&self, func: Func, a: Assignment) {
        let mut hw = self.hw();
        hw.assignments.retain(|(f, _)| *f != func);
        hw.assignments.push((func, a));
    }

    /// The descriptors `func` is assigned by default (its BAR 0 and one message per vector),
    /// for a test to make hostile. The VF is created in the device model if need be.
    pub fn standard_descriptors(&self, func: Func) -> Vec<CM_PARTIAL_RESOURCE_DESCRIPTOR> {
        let mut hw = self.hw();
        let messages = match func {
            Func::Pf => common::hw::regs::PF_VECTORS,
            Func::Vf(vf) => {
                hw.nic.grow_vfs(vf.saturating_add(1));
                common::hw::regs::VF_VECTORS
            }
        };
        standard(hw.nic.bar_of(func).unwrap_or((0, 0)), messages)
    }

    /// What `func` gets: the test's assignment, else [`standard`]. (list storage, BAR, messages)
    pub(super) fn assignment_of(
        &self,
        hw: &mut super::resources::Hw,
        func: Func,
    ) -> (Vec<u64>, (u64, u32), u8) {
        let standard_messages = match func {
            Func::Pf => common::hw::regs::PF_VECTORS,
            Func::Vf(_) => common::hw::regs::VF_VECTORS,
        };
        let d = match hw.assignments.iter().find(|(f, _)| *f == func) {
            Some((_, Assignment::Null)) => return (Vec::new(), (0, 0), 0),
            Some((_, Assignment::Descriptors(d))) => d.clone(),
            None => standard(hw.nic.bar_of(func).unwrap_or((0, 0)), standard_messages),
        };
        let device_bar = hw.nic.bar_of(func).unwrap_or((0, 0));
        let (bar, messages) = granted(&d, device_bar);
        (resource_list(&d), bar, messages)
    }
}
