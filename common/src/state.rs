//! The miniport adapter state machine NDIS 6 imposes (Initializing → Paused ⇄ Running, with
//! Pausing/Restarting in between, Halted at the end), checked at every entry point.

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterState {
    /// Zero, so a zeroed adapter starts here.
    Initializing = 0,
    Paused,
    Restarting,
    Running,
    Pausing,
    Halted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterEvent {
    InitializeDone,
    Restart,
    RestartDone,
    Pause,
    PauseDone,
    /// MiniportResetEx: not a state of its own ("Adapter States of a Miniport Driver"): the
    /// adapter stays in the state it was in.
    Reset,
    Halt,
}

impl AdapterState {
    /// The next state, or `None` when NDIS would never send this event in this state (a
    /// bug to log and refuse, not to act on).
    pub const fn next(self, event: AdapterEvent) -> Option<Self> {
        use AdapterEvent as E;
        use AdapterState as S;
        Some(match (self, event) {
            (S::Initializing, E::InitializeDone) => S::Paused,
            // A failed initialization is halted-in-place by the driver itself.
            (S::Initializing, E::Halt) => S::Halted,
            (S::Paused, E::Restart) => S::Restarting,
            (S::Restarting, E::RestartDone) => S::Running,
            (S::Running, E::Pause) => S::Pausing,
            (S::Pausing, E::PauseDone) => S::Paused,
            (s @ (S::Running | S::Paused | S::Pausing | S::Restarting), E::Reset) => s,
            (S::Paused, E::Halt) => S::Halted,
            _ => return None,
        })
    }

    /// Moves to the next state; an event NDIS would never send here is logged (under
    /// `log`, the driver's prefix) and refused, leaving the state as it was.
    pub fn apply(&mut self, event: AdapterEvent, log: &str) -> bool {
        match self.next(event) {
            Some(s) => {
                *self = s;
                true
            }
            None => {
                crate::ndis_log!(ERROR, log, "unexpected {:?} in state {:?}", event, *self);
                false
            }
        }
    }

    /// Several events as one step (e.g. Pause then PauseDone when nothing is outstanding),
    /// all or nothing: the caller holds its lock across, so nothing lands in between.
    pub fn apply_all(&mut self, events: &[AdapterEvent], log: &str) -> bool {
        let mut s = *self;
        for &e in events {
            match s.next(e) {
                Some(n) => s = n,
                None => {
                    crate::ndis_log!(ERROR, log, "unexpected {:?} in state {:?}", e, s);
                    return false;
                }
            }
        }
        *self = s;
        true
    }

    /// OIDs are accepted from the end of initialization until halt.
    pub const fn accepts_oids(self) -> bool {
        !matches!(self, Self::Initializing | Self::Halted)
    }

    /// Data moves only while running.
    pub const fn accepts_sends(self) -> bool {
        matches!(self, Self::Running)
    }
}
