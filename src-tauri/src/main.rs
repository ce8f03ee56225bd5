//! The desktop entry point: everything lives in the library so that mobile targets share it.
// Hides the console window on Windows release builds; does nothing elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    area_app::run()
}
