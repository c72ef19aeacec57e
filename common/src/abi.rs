//! The one place that names the calling convention of NDIS.
//!
//! Every NDIS export and every `MiniportXxx` callback uses the Windows x64 ABI. On Windows
//! that is `extern "system"`. On a Linux x86_64 host we still use `extern "win64"`, so the
//! simulator can serve both the host-linked drivers and a `.sys` image loaded into the same
//! process with one set of functions. Other architectures (ARM64) fall back to `"system"`.
//!
//! Three macros, each defined twice under `cfg` because an ABI string cannot be a variable:
//! - [`ndis_fn!`] defines functions with the NDIS ABI (callbacks, simulator exports);
//! - [`ndis_fn_type!`] names a function-pointer type with the NDIS ABI;
//! - [`ndis_imports!`] declares imports from a kernel module (`raw-dylib` on Windows).

#[cfg(all(target_arch = "x86_64", not(target_os = "windows")))]
#[macro_export]
macro_rules! ndis_fn {
    ($(#[$m:meta])* $vis:vis unsafe fn $name:ident($($arg:tt : $t:ty),* $(,)?) $(-> $r:ty)? $body:block $($rest:tt)*) => {
        $(#[$m])* $vis unsafe extern "win64" fn $name($($arg: $t),*) $(-> $r)? $body
        $crate::ndis_fn!($($rest)*);
    };
    ($(#[$m:meta])* $vis:vis unsafe fn $name:ident<$g:ident: $bound:path>($($arg:tt : $t:ty),* $(,)?) $(-> $r:ty)? $body:block $($rest:tt)*) => {
        $(#[$m])* $vis unsafe extern "win64" fn $name<$g: $bound>($($arg: $t),*) $(-> $r)? $body
        $crate::ndis_fn!($($rest)*);
    };
    () => {};
}

#[cfg(not(all(target_arch = "x86_64", not(target_os = "windows"))))]
#[macro_export]
macro_rules! ndis_fn {
    ($(#[$m:meta])* $vis:vis unsafe fn $name:ident($($arg:tt : $t:ty),* $(,)?) $(-> $r:ty)? $body:block $($rest:tt)*) => {
        $(#[$m])* $vis unsafe extern "system" fn $name($($arg: $t),*) $(-> $r)? $body
        $crate::ndis_fn!($($rest)*);
    };
    ($(#[$m:meta])* $vis:vis unsafe fn $name:ident<$g:ident: $bound:path>($($arg:tt : $t:ty),* $(,)?) $(-> $r:ty)? $body:block $($rest:tt)*) => {
        $(#[$m])* $vis unsafe extern "system" fn $name<$g: $bound>($($arg: $t),*) $(-> $r)? $body
        $crate::ndis_fn!($($rest)*);
    };
    () => {};
}

#[cfg(all(target_arch = "x86_64", not(target_os = "windows")))]
#[macro_export]
macro_rules! ndis_fn_type {
    (fn($($t:ty),* $(,)?) $(-> $r:ty)?) => { unsafe extern "win64" fn($($t),*) $(-> $r)? };
}

#[cfg(not(all(target_arch = "x86_64", not(target_os = "windows"))))]
#[macro_export]
macro_rules! ndis_fn_type {
    (fn($($t:ty),* $(,)?) $(-> $r:ty)?) => { unsafe extern "system" fn($($t),*) $(-> $r)? };
}

#[cfg(all(target_arch = "x86_64", not(target_os = "windows")))]
#[macro_export]
macro_rules! ndis_imports {
    (module = $module:literal; $($item:tt)*) => {
        unsafe extern "win64" { $($item)* }
    };
}

#[cfg(not(all(target_arch = "x86_64", not(target_os = "windows"))))]
#[macro_export]
macro_rules! ndis_imports {
    (module = $module:literal; $($item:tt)*) => {
        // `+verbatim` keeps the name `ndis.sys` (without it the import reads `ndis.sys.dll`).
        // On the WDK path the WDK's import libraries (linked by wdk-build) provide them.
        #[cfg_attr(all(target_os = "windows", not(feature = "wdk"), not(feature = "sim")), link(name = $module, kind = "raw-dylib", modifiers = "+verbatim"))]
        unsafe extern "system" { $($item)* }
    };
}
