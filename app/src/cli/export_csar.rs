//! `provisio export-csar PATH [--service-template '{ns}id'] -o OUT.csar`: a CSAR Winery and
//! OpenTOSCA import, with every type, implementation and artifact the service template needs.

use provisio_model::Loaded;
use std::path::Path;

/// Exports the service template `st_qname` of `loaded` to bytes.
pub fn export(
    loaded: &Loaded,
    st: &provisio_model::tosca::ServiceTemplate,
) -> Result<provisio_model::csar_export::Exported, String> {
    let lib = &loaded.library;
    let file = lib
        .service_templates()
        .into_iter()
        .find(|(_, s)| s.qname() == st.qname())
        .map(|(f, _)| f)
        .ok_or_else(|| format!("{} is not in the loaded files", st.qname()))?;
    // Export what the editor holds: the given template replaces the stored one.
    let source = |r: &str| crate::deploy::artifacts::read_artifact(loaded, r);
    let created_by = format!("Provisio {}", env!("CARGO_PKG_VERSION"));
    let mut lib = lib.clone();
    if let Some(slot) = lib
        .definitions_mut(file)
        .service_templates
        .iter_mut()
        .find(|s| s.qname() == st.qname())
    {
        *slot = st.clone();
    }
    provisio_model::csar_export::export_csar(&lib, file, st, &source, &created_by)
}

pub fn run(path: &Path, service_template: Option<&str>, out: &Path) -> i32 {
    let (loaded, st) = match super::select::open_and_select(path, service_template) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match export(&loaded, &st) {
        Ok(x) => {
            for w in &x.warnings {
                eprintln!("{w}");
            }
            if let Err(e) = provisio_model::save::write_atomic(out, &x.bytes) {
                eprintln!("error: {}: {e}", out.display());
                return 2;
            }
            println!(
                "wrote {} ({} entries, {} bytes) for {}",
                out.display(),
                x.entries.len(),
                x.bytes.len(),
                st.qname()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
