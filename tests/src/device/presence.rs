//! Which functions are there: VFs appear as the PF enables them (the model grows its VF
//! functions on demand, so a small machine does not carry 256 BARs), and a function the
//! machine surprise-removes vanishes. "Surprise removal" of a PCI function: its BAR then reads
//! all ones (PCI Express Base Specification: a read the function cannot complete returns all
//! ones), which is what docs/reference-nic.md section 10 tells drivers to expect; the model
//! stops acting for it, and [`RefNicModel::untouched_since_removal`] tells whether a driver
//! wrote to its registers afterwards (a Verifier-style check the simulator makes at halt).
use super::*;

impl RefNicModel {
    /// Makes sure VF functions `0..n` exist. Their VF-control entries are the PF's and exist
    /// for all 256 VFs from reset: what the PF wrote there stays.
    pub fn grow_vfs(&mut self, n: u16) {
        while self.vfs.len() < usize::from(n) {
            let v = self.vfs.len() as u16;
            self.vfs.push(Function::new(Func::Vf(v)));
        }
        self.poll();
    }

    /// The function's BAR 0 (base address, length), if it exists.
    pub fn bar_of(&mut self, f: Func) -> Option<(u64, u32)> {
        let func = self.function(f)?;
        Some((func.bar.base() as u64, func.bar.len()))
    }

    /// Surprise removal: the function stops and its registers read all ones.
    pub fn vanish(&mut self, f: Func) {
        if let Some(func) = self.function(f) {
            func.reset();
            func.gone = true;
            for off in (0..func.bar.len()).step_by(8) {
                func.bar.w64(off, u64::MAX);
            }
        }
    }

    /// The function is back (a new device in the same slot): out of reset.
    pub fn restore(&mut self, f: Func) {
        if let Some(func) = self.function(f)
            && func.gone
        {
            func.gone = false;
            for off in (0..func.bar.len()).step_by(8) {
                func.bar.w64(off, 0);
            }
            func.reset();
        }
        self.poll();
    }

    pub fn is_gone(&mut self, f: Func) -> bool {
        self.function(f).is_some_and(|func| func.gone)
    }

    /// For a vanished function: its BAR still reads all ones everywhere (no register was
    /// written after the removal). True for a present function.
    pub fn untouched_since_removal(&mut self, f: Func) -> bool {
        let Some(func) = self.function(f) else {
            return true;
        };
        !func.gone
            || (0..func.bar.len())
                .step_by(8)
                .all(|off| func.bar.r64(off) == u64::MAX)
    }
}
