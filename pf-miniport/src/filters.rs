//! Receive filters on VPorts: OID_RECEIVE_FILTER_SET_FILTER (method),
//! OID_RECEIVE_FILTER_CLEAR_FILTER (set) and OID_RECEIVE_FILTER_MOVE_FILTER (set).
//!
//! A filter on a VF's VPort is how the virtual switch tells the PF the VF's MAC address and
//! VLAN after OID_NIC_SWITCH_ALLOCATE_VF ("Setting a Receive Filter on a Virtual Port"): the
//! PF writes the filter's address into that VF's MAC/VLAN block and invalidates it, through
//! the same host path as every other change (`set_vf_mac_vlan`). With several filters on one
//! VPort the VF's address is the one set (or moved there) last; the docs are silent on
//! which address a single-address VF should take, this is the IHV's choice.
//!
//! Sources: the three OID pages, "Setting a Receive Filter on a Virtual Port" (SR-IOV
//! filters are `NdisReceiveFilterTypeVMQueue` on `NDIS_DEFAULT_RECEIVE_QUEUE_ID`, testing the
//! destination MAC and the VLAN id for equality) and mingw-w64 `ntddndis.h` for the values.
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::Adapter;
use crate::hwswitch::Entry;
use crate::params::*;
use crate::vport::{Filter, MAX_FILTERS_PER_VPORT, SwitchState, switch_ready};
use common::ffi::*;
use common::ndis_log;
use common::oid::{OidError, OidRequest, RequestKind};
use core::mem::offset_of;

type FilterParams = NDIS_RECEIVE_FILTER_PARAMETERS;
type FieldParams = NDIS_RECEIVE_FILTER_FIELD_PARAMETERS;

/// Field tests one filter may carry: the destination MAC and, optionally, the VLAN id.
const MAX_FIELDS: u32 = 2;

/// A filter as SET_FILTER asks for it, validated.
#[derive(Clone, Copy, Debug)]
struct Requested {
    id: u32,
    vport: u32,
    mac: [u8; 6],
    vlan: Option<u16>,
    untagged_or_zero: bool,
    /// Bytes of the request consumed: through the last field.
    end: u32,
}

/// Parses and checks every member of an OID_RECEIVE_FILTER_SET_FILTER input buffer.
fn parse_set_filter(input: &[u8], vlan_filtering: bool) -> Result<Requested, OidError> {
    let base = NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2;
    // Revision 2 (NDIS 6.30) is the one that carries VPortId.
    check_header(input, NDIS_RECEIVE_FILTER_PARAMETERS_REVISION_2, base)?;
    let flags = le32(input, offset_of!(FilterParams, Flags));
    let filter_type = le32(input, offset_of!(FilterParams, FilterType));
    let queue = le32(input, offset_of!(FilterParams, QueueId));
    let id = le32(input, offset_of!(FilterParams, FilterId));
    let array_offset = le32(input, offset_of!(FilterParams, FieldParametersArrayOffset));
    let count = le32(
        input,
        offset_of!(FilterParams, FieldParametersArrayNumElements),
    );
    let element = le32(
        input,
        offset_of!(FilterParams, FieldParametersArrayElementSize),
    );
    let id_bits = le32(input, offset_of!(FilterParams, RequestedFilterIdBitCount));
    let delay = le32(input, offset_of!(FilterParams, MaxCoalescingDelay));
    let vport = le32(input, offset_of!(FilterParams, VPortId));
    if flags != 0 {
        return Err(OidError::invalid_parameter("Flags not zero"));
    }
    if filter_type != NdisReceiveFilterTypeVMQueue {
        return Err(OidError::invalid_parameter(
            "FilterType: SR-IOV supports only NdisReceiveFilterTypeVMQueue",
        ));
    }
    if queue != NDIS_DEFAULT_RECEIVE_QUEUE_ID {
        return Err(OidError::invalid_parameter(
            "QueueId is not NDIS_DEFAULT_RECEIVE_QUEUE_ID",
        ));
    }
    if id == NDIS_DEFAULT_RECEIVE_FILTER_ID {
        return Err(OidError::invalid_parameter("FilterId not assigned by NDIS"));
    }
    if id_bits != 0 || delay != 0 {
        return Err(OidError::invalid_parameter(
            "RequestedFilterIdBitCount / MaxCoalescingDelay not zero",
        ));
    }
    if count == 0 || count > MAX_FIELDS {
        return Err(OidError::invalid_parameter(
            "FieldParametersArrayNumElements outside 1..=2",
        ));
    }
    if element < NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1 as u32 {
        return Err(OidError::invalid_parameter(
            "FieldParametersArrayElementSize below the structure",
        ));
    }
    if array_offset < base as u32 {
        return Err(OidError::invalid_parameter(
            "FieldParametersArrayOffset overlaps the parameters",
        ));
    }
    let end = element
        .checked_mul(count)
        .and_then(|n| n.checked_add(array_offset))
        .ok_or(OidError::invalid_parameter("field array overflows"))?;
    if end as usize > input.len() {
        return Err(OidError::invalid_length(end, "field array past the buffer"));
    }
    let mut mac = None;
    let mut vlan = None;
    let mut untagged_or_zero = false;
    let mut at = array_offset as usize;
    for _ in 0..count {
        let field = input
            .get(at..)
            .ok_or(OidError::invalid_parameter("field offset"))?;
        check_header(
            field,
            NDIS_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1,
        )?;
        let fflags = le32(field, offset_of!(FieldParams, Flags));
        let header = le32(field, offset_of!(FieldParams, FrameHeader));
        let test = le32(field, offset_of!(FieldParams, ReceiveFilterTest));
        let which = le32(field, offset_of!(FieldParams, HeaderField));
        let value: [u8; 16] = le(field, offset_of!(FieldParams, FieldValue));
        let result: [u8; 16] = le(field, offset_of!(FieldParams, ResultValue));
        if header != NdisFrameHeaderMac {
            return Err(OidError::invalid_parameter(
                "FrameHeader is not the MAC header",
            ));
        }
        if test != NdisReceiveFilterTestEqual {
            return Err(OidError::invalid_parameter(
                "ReceiveFilterTest is not NdisReceiveFilterTestEqual",
            ));
        }
        if result != [0; 16] {
            return Err(OidError::invalid_parameter(
                "ResultValue set for an equality test",
            ));
        }
        match which {
            NdisMacHeaderFieldDestinationAddress => {
                if mac.is_some() {
                    return Err(OidError::invalid_parameter("two MAC address fields"));
                }
                if fflags & !NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO != 0 {
                    return Err(OidError::invalid_parameter("undefined field Flags"));
                }
                untagged_or_zero =
                    fflags & NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO != 0;
                let m: [u8; 6] = le(&value, 0);
                if !unicast_mac(&m) || value.get(6..).is_some_and(|r| r.iter().any(|b| *b != 0)) {
                    return Err(OidError::invalid_parameter(
                        "destination MAC not a unicast address",
                    ));
                }
                mac = Some(m);
            }
            NdisMacHeaderFieldVlanId => {
                if !vlan_filtering {
                    return Err(OidError::invalid_parameter(
                        "VLAN filtering disabled (*VMQVlanFiltering = 0)",
                    ));
                }
                if vlan.is_some() {
                    return Err(OidError::invalid_parameter("two VLAN id fields"));
                }
                if fflags != 0 {
                    return Err(OidError::invalid_parameter("Flags on the VLAN field"));
                }
                let v = le16(&value, 0);
                if !(1..=4094).contains(&v)
                    || value.get(2..).is_some_and(|r| r.iter().any(|b| *b != 0))
                {
                    return Err(OidError::invalid_parameter("VLAN id outside 1..=4094"));
                }
                vlan = Some(v);
            }
            _ => {
                return Err(OidError::invalid_parameter(
                    "HeaderField: only destination MAC and VLAN id are supported",
                ));
            }
        }
        at = at.saturating_add(element as usize);
    }
    let mac = mac.ok_or(OidError::invalid_parameter("no destination MAC field"))?;
    // With neither a VLAN field nor VLAN_UNTAGGED_OR_ZERO the driver must fail the request or
    // strip tags into NDIS_NET_BUFFER_LIST_8021Q_INFO; there is no data path here to strip,
    // so it fails. A VLAN field with the flag contradicts it ("Setting a Receive Filter on a
    // Virtual Port").
    if vlan.is_none() && !untagged_or_zero {
        return Err(OidError::invalid_parameter(
            "no VLAN field and no VLAN_UNTAGGED_OR_ZERO flag",
        ));
    }
    if vlan.is_some() && untagged_or_zero {
        return Err(OidError::invalid_parameter(
            "VLAN field together with VLAN_UNTAGGED_OR_ZERO",
        ));
    }
    Ok(Requested {
        id,
        vport,
        mac,
        vlan,
        untagged_or_zero,
        end,
    })
}

/// The filter set last on `vport`, whose address its VF carries.
fn newest_on(sw: &SwitchState, vport: u32) -> Option<Filter> {
    sw.filters
        .iter()
        .filter(|f| f.in_use && f.vport == vport)
        .max_by_key(|f| f.seq)
        .copied()
}

fn find(sw: &SwitchState, id: u32) -> Option<usize> {
    if id == NDIS_DEFAULT_RECEIVE_FILTER_ID {
        return None;
    }
    sw.filters.iter().position(|f| f.in_use && f.id == id)
}

/// The VF a VPort is attached to, if any.
fn vf_of(sw: &SwitchState, vport: u32) -> Option<u16> {
    sw.vport(vport)
        .map(|v| v.function)
        .filter(|f| *f != NDIS_PF_FUNCTION_ID)
}

impl Adapter {
    /// Writes a filter's address into its VF's MAC/VLAN block and invalidates it.
    #[inline(never)] // a breakpoint target in docs/windbg.md
    fn apply_to_vf(&self, vf: u16, f: &Filter) -> Result<(), NDIS_STATUS> {
        let vlan = if f.has_vlan { f.vlan } else { 0 };
        self.set_vf_mac_vlan(vf, f.mac, vlan, 0).map(|_| ())
    }

    /// OID_RECEIVE_FILTER_SET_FILTER (method).
    #[inline(never)]
    pub(crate) fn set_filter(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "RECEIVE_FILTER_SET_FILTER";
        match self.set_filter_checked(req) {
            Ok((r, vf)) => {
                req.set_bytes_read(r.end);
                req.set_bytes_written(NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2 as u32);
                ndis_log!(
                    INFO,
                    LOG,
                    "filter {} on VPort {}{}",
                    r.id,
                    r.vport,
                    if vf.is_some() { " (VF address)" } else { "" }
                );
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    fn set_filter_checked(
        &self,
        req: &mut OidRequest<'_>,
    ) -> Result<(Requested, Option<u16>), OidError> {
        require_kind(req, RequestKind::Method)?;
        let vlan_filtering = self.inner.lock().sw.vlan_filtering;
        let r = parse_set_filter(req.input(), vlan_filtering)?;
        require_output(req, NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2 as u32)?;
        let (filter, i, vf) = {
            let mut st = self.inner.lock();
            switch_ready(&st)?;
            if st.sw.vport(r.vport).is_none() {
                return Err(OidError::invalid_parameter("VPortId does not exist"));
            }
            if find(&st.sw, r.id).is_some() {
                return Err(OidError::invalid_parameter("FilterId already in use"));
            }
            if st.sw.filters_on(r.vport) >= MAX_FILTERS_PER_VPORT {
                return Err(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "no filter left on the VPort",
                ));
            }
            let seq = st.sw.filter_seq.wrapping_add(1);
            st.sw.filter_seq = seq;
            let filter = Filter {
                in_use: true,
                id: r.id,
                vport: r.vport,
                mac: r.mac,
                has_vlan: r.vlan.is_some(),
                vlan: r.vlan.unwrap_or(0),
                untagged_or_zero: r.untagged_or_zero,
                seq,
            };
            let vf = vf_of(&st.sw, r.vport);
            let i = st
                .sw
                .filters
                .iter()
                .position(|f| !f.in_use)
                .ok_or(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "no filter left on the switch",
                ))?;
            if let Some(slot) = st.sw.filters.get_mut(i) {
                *slot = filter;
            }
            (filter, i, vf)
        };
        let undo = || {
            if let Some(f) = self.inner.lock().sw.filters.get_mut(i) {
                *f = Filter::default();
            }
            self.reprogram(&[Entry::Filter(i)]);
        };
        // The hardware step: the filter entry in force before the VF is told its address.
        if let Err(e) = self.program(&[Entry::Filter(i)]) {
            undo();
            return Err(OidError::status(
                e.status(),
                "the device did not take the filter",
            ));
        }
        if let Some(vf) = vf
            && let Err(status) = self.apply_to_vf(vf, &filter)
        {
            undo();
            return Err(OidError::status(
                status,
                "the VF's MAC/VLAN block refused the address",
            ));
        }
        Ok((r, vf))
    }

    /// OID_RECEIVE_FILTER_CLEAR_FILTER (set). An unknown FilterId is
    /// NDIS_STATUS_FILE_NOT_FOUND, the page's status for it.
    #[inline(never)]
    pub(crate) fn clear_filter(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "RECEIVE_FILTER_CLEAR_FILTER";
        let r = (|| {
            require_kind(req, RequestKind::Set)?;
            let input = req.input();
            check_header(
                input,
                NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1,
            )?;
            type P = NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS;
            let flags = le32(input, offset_of!(P, Flags));
            let queue = le32(input, offset_of!(P, QueueId));
            let id = le32(input, offset_of!(P, FilterId));
            if flags != 0 {
                return Err(OidError::invalid_parameter("Flags not zero"));
            }
            if queue != NDIS_DEFAULT_RECEIVE_QUEUE_ID {
                return Err(OidError::invalid_parameter(
                    "QueueId is not NDIS_DEFAULT_RECEIVE_QUEUE_ID",
                ));
            }
            let mut st = self.inner.lock();
            switch_ready(&st)?;
            let i = find(&st.sw, id).ok_or(OidError::status(
                NDIS_STATUS_FILE_NOT_FOUND,
                "FilterId not set",
            ))?;
            let old = st
                .sw
                .filters
                .get_mut(i)
                .map(core::mem::take)
                .unwrap_or_default();
            let vport = old.vport;
            // The VF takes the address of the newest filter left on its VPort, if any.
            let next = vf_of(&st.sw, vport).zip(newest_on(&st.sw, vport));
            drop(st);
            // The hardware step: the entry invalid before anyone is told.
            if let Err(e) = self.program(&[Entry::Filter(i)]) {
                if let Some(f) = self.inner.lock().sw.filters.get_mut(i) {
                    *f = old;
                }
                self.reprogram(&[Entry::Filter(i)]);
                return Err(OidError::status(
                    e.status(),
                    "the device did not take the filter's removal",
                ));
            }
            Ok((id, next))
        })();
        match r {
            Ok((id, next)) => {
                if let Some((vf, f)) = next
                    && self.apply_to_vf(vf, &f).is_err()
                {
                    ndis_log!(WARN, LOG, "VF {}: remaining filter's address refused", vf);
                }
                req.set_bytes_read(NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1 as u32);
                ndis_log!(INFO, LOG, "filter {} cleared", id);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    /// OID_RECEIVE_FILTER_MOVE_FILTER (set): moves a filter from its VPort to another in one
    /// step ("must handle this OID set request atomically").
    #[inline(never)]
    pub(crate) fn move_filter(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "RECEIVE_FILTER_MOVE_FILTER";
        match self.move_filter_checked(req) {
            Ok((id, dest)) => {
                req.set_bytes_read(
                    NDIS_SIZEOF_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1 as u32,
                );
                ndis_log!(INFO, LOG, "filter {} moved to VPort {}", id, dest);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    fn move_filter_checked(&self, req: &mut OidRequest<'_>) -> Result<(u32, u32), OidError> {
        type Move = NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS;
        require_kind(req, RequestKind::Set)?;
        let input = req.input();
        check_header(
            input,
            NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1,
        )?;
        let id = le32(input, offset_of!(Move, FilterId));
        let src_queue = le32(input, offset_of!(Move, SourceQueueId));
        let src = le32(input, offset_of!(Move, SourceVPortId));
        let dst_queue = le32(input, offset_of!(Move, DestQueueId));
        let dst = le32(input, offset_of!(Move, DestVPortId));
        if src_queue != NDIS_DEFAULT_RECEIVE_QUEUE_ID || dst_queue != NDIS_DEFAULT_RECEIVE_QUEUE_ID
        {
            return Err(OidError::invalid_parameter(
                "queue ids are not NDIS_DEFAULT_RECEIVE_QUEUE_ID",
            ));
        }
        if src == dst {
            return Err(OidError::invalid_parameter(
                "source and destination VPort equal",
            ));
        }
        let (i, filter, vf, old_seq, source) = {
            let mut st = self.inner.lock();
            switch_ready(&st)?;
            let i = find(&st.sw, id).ok_or(OidError::invalid_parameter("FilterId not set"))?;
            let filter = *st
                .sw
                .filters
                .get(i)
                .ok_or(OidError::invalid_parameter("FilterId"))?;
            if filter.vport != src {
                return Err(OidError::invalid_parameter(
                    "SourceVPortId is not the filter's VPort",
                ));
            }
            if st.sw.vport(dst).is_none() {
                return Err(OidError::invalid_parameter("DestVPortId does not exist"));
            }
            if st.sw.filters_on(dst) >= MAX_FILTERS_PER_VPORT {
                return Err(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "no filter left on the destination VPort",
                ));
            }
            let seq = st.sw.filter_seq.wrapping_add(1);
            st.sw.filter_seq = seq;
            let vf = vf_of(&st.sw, dst);
            let moved = st
                .sw
                .filters
                .get_mut(i)
                .ok_or(OidError::invalid_parameter("FilterId"))?;
            let old_seq = moved.seq;
            moved.vport = dst;
            moved.seq = seq;
            let filter = *moved;
            // The source VF's address now comes from what is left on its VPort (as after
            // CLEAR_FILTER): the newest filter there, or, with none left, its own default, so
            // that no two VFs carry the moved address.
            let source = vf_of(&st.sw, src).map(|v| (v, newest_on(&st.sw, src)));
            (i, filter, vf, old_seq, source)
        };
        // Put it back where it was: the move happens entirely or not at all.
        let undo = || {
            if let Some(f) = self.inner.lock().sw.filters.get_mut(i) {
                f.vport = src;
                f.seq = old_seq;
            }
            self.reprogram(&[Entry::Filter(i)]);
        };
        // The hardware step: the entry names its new VPort (one commit: the move is atomic
        // in the device too) before either VF is told.
        if let Err(e) = self.program(&[Entry::Filter(i)]) {
            undo();
            return Err(OidError::status(
                e.status(),
                "the device did not take the move",
            ));
        }
        if let Some(vf) = vf
            && let Err(status) = self.apply_to_vf(vf, &filter)
        {
            undo();
            return Err(OidError::status(
                status,
                "the VF's MAC/VLAN block refused the address",
            ));
        }
        if let Some((vf, rest)) = source {
            let applied = match rest {
                Some(f) => self.apply_to_vf(vf, &f),
                None => self
                    .set_vf_mac_vlan(vf, crate::adapter::default_vf_mac(vf), 0, 0)
                    .map(|_| ()),
            };
            if applied.is_err() {
                ndis_log!(WARN, LOG, "VF {}: address after the move refused", vf);
            }
        }
        Ok((id, dst))
    }
}
