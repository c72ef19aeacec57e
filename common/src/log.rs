//! Debugger output through `DbgPrintEx` (component `DPFLTR_IHVNETWORK_ID`), formatted into a
//! stack buffer: no allocation, usable at any IRQL up to DISPATCH_LEVEL.
//!
//! Enable in WinDbg with `ed nt!Kd_IHVNETWORK_Mask 0xF` (all four levels).
use crate::ffi::imports::DbgPrintEx;
use core::fmt::{self, Write};

pub use crate::ffi::{
    DPFLTR_ERROR_LEVEL as ERROR, DPFLTR_INFO_LEVEL as INFO, DPFLTR_TRACE_LEVEL as TRACE,
    DPFLTR_WARNING_LEVEL as WARN,
};

const LINE: usize = 192;

struct Line {
    buf: [u8; LINE],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the NUL; truncate rather than fail.
        let room = LINE - 1 - self.len;
        let n = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + n),
            s.as_bytes().get(..n),
        ) {
            dst.copy_from_slice(src);
            self.len += n;
        }
        Ok(())
    }
}

/// Prints `"<prefix>: <message>\n"` at `level`.
pub fn emit(level: u32, prefix: &str, args: fmt::Arguments<'_>) {
    let mut line = Line {
        buf: [0; LINE],
        len: 0,
    };
    let _ = write!(line, "{prefix}: {args}");
    if line.len < LINE - 1 {
        line.buf[line.len] = b'\n';
    }
    // SAFETY: "%s" with one NUL-terminated buffer that outlives the call; buf[LINE-1] stays 0.
    unsafe {
        DbgPrintEx(
            crate::ffi::DPFLTR_IHVNETWORK_ID,
            level,
            c"%s".as_ptr().cast(),
            line.buf.as_ptr(),
        );
    }
}

/// `ndis_log!(ERROR, "sriov-pf", "read of block {} refused", id)`. TRACE lines are compiled
/// only into debug builds (they sit on the backchannel's hot paths); ERROR, WARN and INFO are
/// always there.
#[macro_export]
macro_rules! ndis_log {
    (TRACE, $prefix:expr, $($arg:tt)*) => {
        if cfg!(debug_assertions) {
            $crate::log::emit($crate::log::TRACE, $prefix, format_args!($($arg)*))
        }
    };
    ($level:ident, $prefix:expr, $($arg:tt)*) => {
        $crate::log::emit($crate::log::$level, $prefix, format_args!($($arg)*))
    };
}
