//! The built-in TOSCA type library, icons and example topologies, embedded in the binary.
//!
//! `library/` is a Winery repository (open it in Winery, or with `provisio validate assets/library`):
//! the node, relationship, capability, requirement and artifact types of the thesis and of
//! Flex4Apps, artifact templates with small files, and example service templates.

/// Every file of the built-in library: (repository-relative path, bytes), sorted by path.
pub fn library_files() -> &'static [(&'static str, &'static [u8])] {
    include!(concat!(env!("OUT_DIR"), "/library_files.rs"))
}

/// The folder the library is embedded from (for tests and tools working on the sources).
pub fn library_dir() -> &'static std::path::Path {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/library"))
}

/// Namespace of the example service templates.
pub const SERVICE_TEMPLATES_NS: &str = "http://provisio.dev/tosca/servicetemplates";

/// The thesis evaluation scenario: (namespace, id).
pub const THESIS_SCENARIO: (&str, &str) = (SERVICE_TEMPLATES_NS, "ThesisScenario");

/// The example service templates: (namespace, id).
pub fn example_service_templates() -> Vec<(&'static str, &'static str)> {
    vec![
        THESIS_SCENARIO,
        (SERVICE_TEMPLATES_NS, "MosquittoBroker"),
        (SERVICE_TEMPLATES_NS, "Flex4AppsMonitoring"),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn library_is_embedded_in_sorted_order() {
        let files = super::library_files();
        assert!(files.len() > 30, "{}", files.len());
        assert!(files.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            files
                .iter()
                .any(|(p, _)| p.ends_with("ThesisScenario/ServiceTemplate.tosca"))
        );
        let (_, fw) = files.iter().find(|(p, _)| p.ends_with(".bin")).unwrap();
        assert_eq!(fw[0], 0xE9);
    }

    /// A `<winery:properties>` entry declares one property: a second key inside it (a merge
    /// that lost a closing tag) is silently dropped by every reader.
    #[test]
    fn each_winery_property_entry_has_one_key() {
        for (path, bytes) in super::library_files() {
            let Ok(text) = std::str::from_utf8(bytes) else {
                continue;
            };
            for entry in text.split("<winery:properties>").skip(1) {
                let entry = entry.split("</winery:properties>").next().unwrap_or("");
                assert_eq!(
                    entry.matches("<winery:key>").count(),
                    1,
                    "{path}: <winery:properties> with other than one key:{entry}"
                );
            }
        }
    }
}
