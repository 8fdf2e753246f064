//! What a bundle holds, read from its OCI layout: the top `index.json` (one
//! entry per image, named by annotations), each image's index, its platform
//! manifests (and the build attestations that describe them), configs and
//! layers. One walk serves `save` (keeping the chosen platforms), `verify`
//! and `load` (everything the index names must be there, size for size).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use sha2::Digest as _;

pub use crate::registry::Descriptor;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The full reference docker load tags an image with (containerd's name).
pub const IMAGE_NAME: &str = "io.containerd.image.name";
/// The tag, as the OCI image layout names it.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// imgtool.toml's name of the image (`router`).
pub const SET_IMAGE: &str = "io.imgtool.image";
/// imgtool.toml's `source`: which project's image set this is.
pub const SET_SOURCE: &str = "io.imgtool.bundle.source";
/// The set's image names, in imgtool.toml's order.
pub const SET_IMAGES: &str = "io.imgtool.bundle.images";
const ATTESTATION_OF: &str = "vnd.docker.reference.digest";

#[derive(Debug, Deserialize)]
pub struct TopIndex {
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct ImageConfig {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

/// One blob an image needs, and the platform it serves (`None`: the index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub digest: String,
    pub size: u64,
    pub platform: Option<String>,
    /// What it is, for messages: `index of router`, `layer of gateway linux/arm64`.
    pub what: String,
}

/// One image of the bundle and every blob it needs, parents first.
#[derive(Debug, Clone)]
pub struct ImageBlobs {
    pub reference: String,
    /// The media type of the image's top descriptor (an index, mostly).
    pub media_type: String,
    /// The index (or manifest) digest: the image's ID once loaded.
    pub digest: String,
    pub platforms: Vec<String>,
    pub needs: Vec<Need>,
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `sha256:<64 hex>` → the blob's path in the layout.
pub fn blob_path(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| format!("blobs/sha256/{hex}"))
}

fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

fn is_attestation(d: &Descriptor) -> bool {
    d.platform.as_ref().is_some_and(|p| p.os == "unknown") || d.annotations.contains_key(ATTESTATION_OF)
}

/// Why a walk stopped: a blob it must read is not there, or is not JSON.
#[derive(Debug)]
pub enum WalkError {
    Missing(Need),
    Invalid(Need, String),
    /// A chosen platform the image does not have.
    NoPlatform {
        platform: String,
        has: String,
    },
}

/// Walks one image from its descriptor in the top index. `json` returns a
/// small blob's bytes (None: not there). `chosen`: the platforms to keep
/// (None: all the index lists). The manifests kept are the chosen
/// platforms' and the attestations of those; returns them (and, if that is
/// not every entry, the index's entries to keep, for a rewrite).
pub fn walk(
    reference: &str,
    top: &Descriptor,
    json: &dyn Fn(&str) -> Option<Vec<u8>>,
    chosen: Option<&[String]>,
) -> Result<(ImageBlobs, Option<Vec<Value>>), WalkError> {
    let need = |d: &Descriptor, platform: Option<&str>, what: &str| Need {
        digest: d.digest.clone(),
        size: d.size,
        platform: platform.map(str::to_string),
        what: match platform {
            Some(p) => format!("{what} of {reference} {p}"),
            None => format!("{what} of {reference}"),
        },
    };
    let read = |n: &Need| -> Result<Vec<u8>, WalkError> {
        let bytes = json(&n.digest).ok_or_else(|| WalkError::Missing(n.clone()))?;
        if bytes.len() as u64 != n.size || sha256(&bytes) != n.digest {
            return Err(WalkError::Invalid(n.clone(), "its content does not match its digest and size".into()));
        }
        Ok(bytes)
    };
    let mut image = ImageBlobs {
        reference: reference.into(),
        media_type: top.media_type.clone(),
        digest: top.digest.clone(),
        platforms: vec![],
        needs: vec![],
    };
    let mut manifests: Vec<(Descriptor, Option<String>)> = Vec::new();
    let mut kept = None;
    if is_index(&top.media_type) {
        let n = need(top, None, "index");
        let bytes = read(&n)?;
        image.needs.push(n.clone());
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| WalkError::Invalid(n.clone(), e.to_string()))?;
        let entries: Vec<Value> = value["manifests"].as_array().cloned().unwrap_or_default();
        let descriptors: Vec<Descriptor> = (entries.iter().cloned())
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .map_err(|e| WalkError::Invalid(n.clone(), e.to_string()))?;
        let platform_of = |d: &Descriptor| d.platform.as_ref().map(|p| format!("{}/{}", p.os, p.architecture));
        let images: Vec<&Descriptor> = descriptors.iter().filter(|d| !is_attestation(d)).collect();
        let has: Vec<String> = images.iter().filter_map(|d| platform_of(d)).collect();
        let wanted = |d: &Descriptor| platform_of(d).is_some_and(|p| chosen.is_none_or(|c| c.contains(&p)));
        for p in chosen.unwrap_or_default() {
            if !has.contains(p) {
                return Err(WalkError::NoPlatform { platform: p.clone(), has: has.join(", ") });
            }
        }
        let mut keep = Vec::new();
        for (entry, d) in entries.iter().zip(&descriptors) {
            let platform = if is_attestation(d) {
                let of = d.annotations.get(ATTESTATION_OF);
                let target = descriptors.iter().find(|t| Some(&t.digest) == of && wanted(t));
                // Saving keeps attestations the daemon has, never requires
                // them; a bundle must hold every one its index lists.
                match target {
                    Some(t) if chosen.is_none() || json(&d.digest).is_some() => platform_of(t),
                    _ => continue,
                }
            } else if wanted(d) {
                platform_of(d)
            } else {
                continue;
            };
            keep.push(entry.clone());
            manifests.push((d.clone(), platform));
        }
        if keep.len() != entries.len() {
            kept = Some(keep);
        }
    } else {
        manifests.push((top.clone(), None));
    }
    for (d, platform) in manifests {
        let n = need(&d, platform.as_deref(), "manifest");
        let bytes = read(&n)?;
        let parsed: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| WalkError::Invalid(n.clone(), e.to_string()))?;
        let platform = match platform {
            Some(p) => p,
            None => {
                let c = need(&parsed.config, None, "config");
                let config: ImageConfig =
                    serde_json::from_slice(&read(&c)?).map_err(|e| WalkError::Invalid(c.clone(), e.to_string()))?;
                format!("{}/{}", config.os, config.architecture)
            }
        };
        let attestation = is_attestation(&d);
        if !attestation && !image.platforms.contains(&platform) {
            image.platforms.push(platform.clone());
        }
        image.needs.push(Need { platform: Some(platform.clone()), ..n });
        image.needs.push(need(&parsed.config, Some(&platform), "config"));
        for layer in &parsed.layers {
            image.needs.push(need(layer, Some(&platform), "layer"));
        }
    }
    Ok((image, kept))
}

/// Bytes of the unique blobs each platform needs (the indexes apart).
pub fn bytes_per_platform(images: &[ImageBlobs]) -> BTreeMap<String, u64> {
    let mut seen: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut bytes = BTreeMap::new();
    for n in images.iter().flat_map(|i| &i.needs) {
        if let Some(p) = &n.platform {
            let digests = seen.entry(p.clone()).or_default();
            if !digests.contains(&n.digest.as_str()) {
                digests.push(&n.digest);
                *bytes.entry(p.clone()).or_insert(0) += n.size;
            }
        }
    }
    bytes
}

/// The top index's entry for an image: named for `docker load`
/// (containerd's full name, the OCI tag) and for the set (imgtool's name).
pub fn entry(image: &ImageBlobs, name: &str) -> Value {
    let tag = image.reference.rsplit_once(':').map_or("latest", |(_, t)| t);
    serde_json::json!({
        "mediaType": image.media_type,
        "digest": image.digest,
        "size": image.needs[0].size,
        "annotations": {IMAGE_NAME: image.reference, REF_NAME: tag, SET_IMAGE: name},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A blob store and the descriptor of the JSON `value` put in it.
    fn put(store: &mut HashMap<String, Vec<u8>>, media_type: &str, value: Value) -> Value {
        let bytes = serde_json::to_vec(&value).unwrap();
        let digest = sha256(&bytes);
        let d = serde_json::json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
        store.insert(digest, bytes);
        d
    }

    /// An index of amd64 and arm64 manifests plus an attestation of amd64's.
    fn image(store: &mut HashMap<String, Vec<u8>>) -> Descriptor {
        let mut manifests = Vec::new();
        for arch in ["amd64", "arm64"] {
            let config = put(store, "application/vnd.oci.image.config.v1+json", json_config(arch));
            let layer = serde_json::json!({"mediaType": "layer", "digest": sha256(arch.as_bytes()), "size": 5});
            let m = serde_json::json!({"schemaVersion": 2, "config": config, "layers": [layer]});
            let mut d = put(store, "application/vnd.oci.image.manifest.v1+json", m);
            d["platform"] = serde_json::json!({"os": "linux", "architecture": arch});
            manifests.push(d);
        }
        let config = put(store, "application/vnd.oci.image.config.v1+json", serde_json::json!({}));
        let att = serde_json::json!({"schemaVersion": 2, "config": config, "layers": []});
        let mut d = put(store, "application/vnd.oci.image.manifest.v1+json", att);
        d["platform"] = serde_json::json!({"os": "unknown", "architecture": "unknown"});
        d["annotations"] = serde_json::json!({ATTESTATION_OF: manifests[0]["digest"]});
        manifests.push(d);
        let index = put(store, OCI_INDEX, serde_json::json!({"schemaVersion": 2, "manifests": manifests}));
        serde_json::from_value(index).unwrap()
    }

    fn json_config(arch: &str) -> Value {
        serde_json::json!({"os": "linux", "architecture": arch})
    }

    #[test]
    fn a_chosen_platform_keeps_its_manifest_and_attestation_only() {
        let mut store = HashMap::new();
        let top = image(&mut store);
        let json = |d: &str| store.get(d).cloned();
        let amd64 = ["linux/amd64".to_string()];
        let (blobs, kept) = walk("r", &top, &json, Some(&amd64)).unwrap();
        assert_eq!(blobs.platforms, ["linux/amd64"]);
        assert_eq!(kept.map(|k| k.len()), Some(2), "the amd64 manifest and its attestation");
        assert!(!blobs.needs.iter().any(|n| n.digest == sha256(b"arm64")), "{:?}", blobs.needs);
        let (all, kept) = walk("r", &top, &json, None).unwrap();
        assert_eq!((all.platforms.len(), kept.is_none()), (2, true));
        let per = bytes_per_platform(&[all]);
        assert!(per["linux/amd64"] > 5 && per["linux/arm64"] > 5, "{per:?}");
    }

    #[test]
    fn a_missing_platform_or_blob_is_named() {
        let mut store = HashMap::new();
        let top = image(&mut store);
        let json = |d: &str| store.get(d).cloned();
        let s390x = ["linux/s390x".to_string()];
        assert!(matches!(walk("r", &top, &json, Some(&s390x)), Err(WalkError::NoPlatform { .. })));
        let index: Value = serde_json::from_slice(&store[&top.digest]).unwrap();
        store.remove(index["manifests"][2]["digest"].as_str().unwrap());
        let json = |d: &str| store.get(d).cloned();
        match walk("r", &top, &json, None) {
            Err(WalkError::Missing(n)) => assert_eq!(n.what, "manifest of r linux/amd64"),
            other => panic!("{other:?}"),
        }
        // Saving drops an attestation the daemon does not have.
        let amd64 = ["linux/amd64".to_string()];
        assert_eq!(walk("r", &top, &json, Some(&amd64)).unwrap().1.map(|k| k.len()), Some(1));
    }
}
