//! Opening user input on top of the built-in type library shipped in the binary.

use provisio_model::load::add_builtin_files;
use provisio_model::{InputKind, Library, LoadError, Loaded, load_path};
use std::path::{Path, PathBuf};

/// The path recorded for documents that come from the built-in library.
pub const BUILTIN: &str = "builtin";

/// The built-in library as a loaded document source.
pub fn builtin_loaded() -> Loaded {
    Loaded {
        kind: InputKind::WineryRepository,
        path: PathBuf::from(BUILTIN),
        library: builtin_library(),
        main_file: None,
        csar: None,
    }
}

/// The built-in library alone (types and example service templates).
pub fn builtin_library() -> Library {
    let mut lib = Library::new();
    add_builtin_files(&mut lib, builtin_files());
    lib
}

fn builtin_files() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    provisio_assets::library_files()
        .iter()
        .map(|(p, b)| (*p, *b))
}

/// Opens a file, Winery repository or CSAR, then adds the built-in library underneath (user
/// definitions take precedence over built-in ones with the same QName).
pub fn open_with_builtin(path: &Path) -> Result<Loaded, LoadError> {
    let mut loaded = load_path(path)?;
    add_builtin_files(&mut loaded.library, builtin_files());
    Ok(loaded)
}
