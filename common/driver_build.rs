// The build script of both driver crates (each `build.rs` includes this file).
//
// Link setup for the driver image. Three ways to build (README, "Cross-building the Windows
// images on Linux" and "Building with the WDK on Windows"):
// - host (`cargo test`): nothing to do, the simulator defines the NDIS symbols;
// - Linux cross-build to `x86_64-pc-windows-msvc`: rust-lld links a kernel image;
// - Windows with the WDK (`--features wdk`, via `cargo make`): wdk-build configures it.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../common/driver_build.rs");
    // `kernel_image`: this build is the .sys (Windows target, not built into the simulator).
    println!("cargo::rustc-check-cfg=cfg(kernel_image)");
    let windows = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    if windows && std::env::var_os("CARGO_FEATURE_SIM").is_none() {
        println!("cargo::rustc-cfg=kernel_image");
    }
    #[cfg(all(windows, feature = "wdk"))]
    {
        if let Err(e) = wdk_build::configure_wdk_binary_build() {
            panic!("wdk-build could not configure the driver build: {e:?}");
        }
        println!("cargo::rustc-link-lib=ndis");
        return;
    }
    #[allow(unreachable_code)]
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os == "windows" && target_env == "msvc" {
        // What link.exe's /DRIVER gives a driver and rust-lld must be told: every section that
        // stays resident is not pageable (/SECTION with P sets IMAGE_SCN_MEM_NOT_PAGED; lld
        // replaces the section's memory flags with the letters given, so each keeps its own
        // R/W/E). The discardable .reloc is left as it is. A section that an image lacks (the
        // VF has no .data) is ignored by the linker. /CETCOMPAT marks the image compatible
        // with kernel-mode hardware-enforced stack protection (shadow stacks). With /RELEASE
        // rust-lld writes the PE checksum; packaging sets it again after signing (xtask::pe).
        for arg in [
            "/SUBSYSTEM:NATIVE",
            "/DRIVER",
            "/ENTRY:DriverEntry",
            "/NODEFAULTLIB",
            "/INCREMENTAL:NO",
            "/OPT:REF,ICF",
            "/CETCOMPAT",
            "/RELEASE",
            "/SECTION:.text,ERP",
            "/SECTION:.rdata,RP",
            "/SECTION:.data,RWP",
            "/SECTION:.pdata,RP",
        ] {
            println!("cargo::rustc-cdylib-link-arg={arg}");
        }
    }
}
