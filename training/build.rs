//! Makes the trainer binary and its tests run without LD_LIBRARY_PATH, on CPU and CUDA machines.
//!
//! torch-sys (links = "tch") reports the libtorch it linked as DEP_TCH_LIBTORCH_LIB; we embed
//! that folder as an rpath (libtorch's own RPATH then finds the CUDA libraries that
//! `pip install torch` puts next to it). With a CUDA libtorch we also keep libtorch_cuda.so as a
//! dependency: the linker's --as-needed would drop it (nothing references it by symbol) and tch
//! would then see no CUDA device.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch folder: no rpath embedded, set LD_LIBRARY_PATH");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if std::path::Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
