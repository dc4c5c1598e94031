//! `provisio export-csar PATH [--service-template '{ns}id'] -o OUT.csar`: a CSAR Winery and
//! OpenTOSCA import, with every type, implementation and artifact the service template needs.

use std::path::Path;

pub use crate::deploy::artifacts::export_csar as export;

pub fn run(path: &Path, service_template: Option<&str>, out: &Path) -> i32 {
    let (loaded, st) = match super::select::open_and_select(path, service_template) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match export(&loaded, &st) {
        Ok(x) => {
            for w in &x.warnings {
                errln!("{w}");
            }
            if let Err(e) = provisio_model::save::write_atomic(out, &x.bytes) {
                errln!("error: {}: {e}", out.display());
                return 2;
            }
            outln!(
                "wrote {} ({} entries, {} bytes) for {}",
                out.display(),
                x.entries.len(),
                x.bytes.len(),
                st.qname()
            );
            0
        }
        Err(e) => {
            errln!("error: {e}");
            1
        }
    }
}
