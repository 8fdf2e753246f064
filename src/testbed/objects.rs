//! Docker's own view of a testbed's containers and networks, read as data:
//! IDs by label (`-q`), then `docker inspect`'s JSON. Nothing is parsed out
//! of human-readable columns.

use std::collections::HashMap;

use serde::Deserialize;

use super::spec::{LABEL_NODE, LABEL_TESTBED};
use crate::engine::{Engine, EngineError};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub id: String,
    /// The ID of the image it was made from.
    #[serde(default)]
    pub image: String,
    /// With Docker's leading '/'; see [`Container::name`].
    name: String,
    pub state: ContainerState,
    pub config: ContainerConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: String,
    #[serde(default)]
    pub health: Option<Health>,
    #[serde(default)]
    pub started_at: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub image: String,
    #[serde(default)]
    pub labels: Option<HashMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub labels: Option<HashMap<String, String>>,
}

impl Container {
    pub fn name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config.labels.as_ref()?.get(key).map(String::as_str)
    }
    /// The scenario node (or helper) it is, by its label.
    pub fn node(&self) -> Option<&str> {
        self.label(LABEL_NODE)
    }
    pub fn running(&self) -> bool {
        self.state.status == "running"
    }
    /// Docker's health status (`healthy`, `starting`, ...); empty without a health check.
    pub fn health(&self) -> &str {
        self.state.health.as_ref().map_or("", |h| h.status.as_str())
    }
}

impl Network {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.as_ref()?.get(key).map(String::as_str)
    }
}

/// `docker inspect` of those of `names` that exist (a missing one is not an
/// error: a testbed being made or removed has some and not others).
fn inspect<T: serde::de::DeserializeOwned>(
    engine: &Engine,
    kind: &str,
    names: &[String],
) -> Result<Vec<T>, EngineError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["inspect".to_string(), "--type".into(), kind.into()];
    args.extend(names.iter().cloned());
    let run = engine.output(&args)?;
    let text = run.stdout.trim();
    if text.is_empty() || text == "[]" {
        if run.ok() || run.stderr.contains("No such") || run.stderr.contains("not found") {
            return Ok(Vec::new());
        }
        return Err(failed(&args, &run.stderr));
    }
    serde_json::from_str(text).map_err(|e| failed(&args, &format!("unexpected JSON from docker: {e}")))
}

fn failed(args: &[String], tail: &str) -> EngineError {
    EngineError::Failed {
        cmd: format!("docker {}", args.join(" ")),
        status: "unexpected output".into(),
        tail: crate::engine::last_lines(tail, 1),
    }
}

fn ids(engine: &Engine, args: &[&str]) -> Result<Vec<String>, EngineError> {
    Ok(engine.run(args)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

/// Every container that carries the testbed's label, running or not.
pub fn testbed_containers(engine: &Engine, testbed: &str) -> Result<Vec<Container>, EngineError> {
    let filter = format!("label={LABEL_TESTBED}={testbed}");
    let found = ids(engine, &["ps", "-a", "-q", "--no-trunc", "--filter", &filter])?;
    inspect(engine, "container", &found)
}

/// Every network that carries the testbed's label.
pub fn testbed_networks(engine: &Engine, testbed: &str) -> Result<Vec<Network>, EngineError> {
    let filter = format!("label={LABEL_TESTBED}={testbed}");
    let found = ids(engine, &["network", "ls", "-q", "--no-trunc", "--filter", &filter])?;
    inspect(engine, "network", &found)
}

/// The containers of these names that exist.
pub fn containers(engine: &Engine, names: &[String]) -> Result<Vec<Container>, EngineError> {
    inspect(engine, "container", names)
}

/// The networks of these names that exist.
pub fn networks(engine: &Engine, names: &[String]) -> Result<Vec<Network>, EngineError> {
    inspect(engine, "network", names)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Image {
    id: String,
}

/// Each reference pinned to the content it names now: its image ID.
/// Containers made from the pin run exactly what `up` checked, whatever the
/// tag points to later. Not `repo@digest`: when the tag moves (a rebuild),
/// that name stops resolving, while the ID still finds the content.
pub fn pin(engine: &Engine, references: &[String]) -> Result<HashMap<String, String>, EngineError> {
    let images: Vec<Image> = inspect(engine, "image", references)?;
    // `docker inspect` answers in the order asked; all are local by now.
    if images.len() != references.len() {
        return Err(failed(&["image".into(), "inspect".into()], "an image vanished while up was starting"));
    }
    let mut pins = HashMap::new();
    for (r, image) in references.iter().zip(images) {
        pins.insert(r.clone(), image.id);
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_docker_inspect_prints() {
        let json = r#"[{"Id":"abc","Name":"/tb-router","State":{"Status":"running","StartedAt":"2026-12-01T10:16:39.9Z",
            "Health":{"Status":"healthy","FailingStreak":0}},"Config":{"Image":"r:1","Labels":{"io.imgtool.node":"router"}}},
            {"Id":"def","Name":"/tb-observer","State":{"Status":"exited"},"Config":{"Image":"c","Labels":null}}]"#;
        let got: Vec<Container> = serde_json::from_str(json).unwrap();
        assert_eq!(
            (got[0].name(), got[0].node(), got[0].health(), got[0].running()),
            ("tb-router", Some("router"), "healthy", true)
        );
        assert_eq!((got[1].name(), got[1].node(), got[1].health(), got[1].running()), ("tb-observer", None, "", false));
        let nets: Vec<Network> = serde_json::from_str(
            r#"[{"Id":"n1","Name":"tb-isp-a","Driver":"macvlan","Labels":{"io.imgtool.testbed":"tb"}}]"#,
        )
        .unwrap();
        assert_eq!((nets[0].driver.as_str(), nets[0].label(LABEL_TESTBED)), ("macvlan", Some("tb")));
    }
}
