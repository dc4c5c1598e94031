//! The gateway test's TOSCA definitions: one NodeMCU group per gateway (its devices' ids, the
//! gateway's broker as `pubSubServer`, the central broker as `engineBroker`, the gateway's cache
//! as `artifactBaseUrl`) hosting a NodeMCU_App, in two service templates that differ only in the
//! app's firmware (`FleetV1`, `FleetV2`), built on the built-in NodeMCU types.

use super::Gateway;
use std::path::{Path, PathBuf};

/// Namespace of the test's definitions.
pub const NS: &str = "urn:provisio-test:gateways";

/// A firmware image of `len` bytes for version `v` (ESP8266 magic byte first).
pub fn firmware(v: u8, len: usize) -> Vec<u8> {
    let mut image: Vec<u8> = (0..len)
        .map(|i| (i % 251) as u8 ^ v.wrapping_mul(37))
        .collect();
    image[0] = provisio_model::protocol::ESP8266_MAGIC_BYTE;
    image
}

fn service_template(name: &str, artifact: &str, central: &str, gateways: &[Gateway]) -> String {
    let mut nodes = String::new();
    for g in gateways {
        let i = g.index;
        let ids = serde_json::to_string(&g.ids).unwrap();
        nodes.push_str(&format!(
            r#"
      <NodeTemplate id="App{i}" name="App{i}" type="nt:NodeMCU_App"><Properties><p:Properties><p:appConfig>{{"interval":600000}}</p:appConfig></p:Properties></Properties>
        <DeploymentArtifacts><DeploymentArtifact name="firmware" artifactType="at:NodeMCUFirmware" artifactRef="t:{artifact}"/></DeploymentArtifacts></NodeTemplate>
      <NodeTemplate id="Gateway{i}" name="Gateway{i}" type="nt:NodeMCU"><Properties><p:Properties>
        <p:hardwareIds>{ids}</p:hardwareIds><p:pubSubServer>{broker}</p:pubSubServer>
        <p:controlTopic>{control}</p:controlTopic><p:responseTopic>{response}</p:responseTopic>
        <p:engineBroker>{central}</p:engineBroker><p:artifactBaseUrl>{cache}</p:artifactBaseUrl>
        <p:gatewayStatusTopic>gw{i}/bridge</p:gatewayStatusTopic>
      </p:Properties></Properties></NodeTemplate>
      <RelationshipTemplate id="hosted{i}" name="HostedOn" type="b:HostedOn"><SourceElement ref="App{i}"/><TargetElement ref="Gateway{i}"/></RelationshipTemplate>"#,
            broker = g.broker_url(),
            control = g.control_topic(),
            response = g.response_topic(),
            cache = g.cache_url(),
        ));
    }
    format!(
        r#"
  <ServiceTemplate id="{name}" name="{name}" targetNamespace="{NS}"><TopologyTemplate>{nodes}
  </TopologyTemplate></ServiceTemplate>"#
    )
}

/// Writes `gateways.tosca` and the two firmware images (`image_len` bytes) into `dir`.
pub fn write(dir: &Path, central: &str, gateways: &[Gateway], image_len: usize) -> PathBuf {
    for v in [1u8, 2] {
        std::fs::write(dir.join(format!("app-v{v}.bin")), firmware(v, image_len)).unwrap();
    }
    let artifacts: String = [1, 2]
        .iter()
        .map(|v| {
            format!(
                r#"
  <ArtifactTemplate id="AppV{v}" name="AppV{v}" type="at:NodeMCUFirmware"><ArtifactReferences><ArtifactReference reference="app-v{v}.bin"/></ArtifactReferences></ArtifactTemplate>"#
            )
        })
        .collect();
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Definitions xmlns="http://docs.oasis-open.org/tosca/ns/2011/12" xmlns:nt="http://provisio.dev/tosca/nodetypes" xmlns:at="http://provisio.dev/tosca/artifacttypes" xmlns:b="http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes" xmlns:p="http://provisio.dev/tosca/nodetypes/propertiesdefinition/winery" xmlns:t="{NS}" id="gateways" targetNamespace="{NS}">{artifacts}{v1}{v2}
</Definitions>
"#,
        v1 = service_template("FleetV1", "AppV1", central, gateways),
        v2 = service_template("FleetV2", "AppV2", central, gateways),
    );
    let path = dir.join("gateways.tosca");
    std::fs::write(&path, xml).unwrap();
    path
}
