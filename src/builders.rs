//! buildx builders: which exist, their nodes and platforms
//! (`docker buildx ls --format json`, one builder per line), for `doctor`
//! and for `build --builder NAME`. A maintainer with an arm64 machine
//! appends it as a node of a builder, so that arm64 builds natively instead
//! of under QEMU (buildx/README.md).

use crate::engine::{Engine, EngineError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Builder {
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub platforms: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot read `docker buildx ls --format json`: {0}; buildx 0.13 or newer is needed")]
    Unreadable(String),
    #[error(
        "no buildx builder named {name} (there are: {known}): `docker buildx ls` lists them; buildx/README.md says how to make one"
    )]
    Unknown { name: String, known: String },
}

impl Builder {
    /// Every platform of its running nodes, once each, in order.
    pub fn platforms(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in self.nodes.iter().filter(|n| n.status == "running").flat_map(|n| &n.platforms) {
            if !out.contains(&p.as_str()) {
                out.push(p);
            }
        }
        out
    }
}

/// Parses `docker buildx ls --format json`. buildx 0.13 prints a builder
/// once per line of its table, so the same one may come twice: kept once.
pub fn parse(text: &str) -> Result<Vec<Builder>, BuilderError> {
    let mut all: Vec<Builder> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let b: Builder = serde_json::from_str(line).map_err(|e| BuilderError::Unreadable(e.to_string()))?;
        if !all.iter().any(|a| a.name == b.name) {
            all.push(b);
        }
    }
    Ok(all)
}

pub fn list(engine: &Engine) -> Result<Vec<Builder>, BuilderError> {
    parse(&engine.run(&["buildx", "ls", "--format", "json"])?)
}

/// The builder named `name`, or an error that lists those there are.
pub fn require(engine: &Engine, name: &str) -> Result<Builder, BuilderError> {
    let all = list(engine)?;
    let known = all.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ");
    all.iter().find(|b| b.name == name).cloned().ok_or_else(|| BuilderError::Unknown { name: name.into(), known })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_the_platforms_of_their_running_nodes_are_read() {
        let text = r#"{"Name":"default","Driver":"docker","LastActivity":"2026-12-01T20:51:52Z","Dynamic":false,"Nodes":[{"Name":"default","Endpoint":"default","Status":"running","Version":"v0.0.0+unknown","Platforms":["linux/amd64","linux/amd64/v2","linux/arm64"]}]}
{"Name":"multi","Driver":"docker-container","Nodes":[{"Name":"multi0","Status":"running","Platforms":["linux/amd64"]},{"Name":"arm","Status":"running","Platforms":["linux/arm64","linux/amd64"]},{"Name":"gone","Status":"inactive","Platforms":["linux/riscv64"]}]}
"#;
        let all = parse(&format!("{text}{}", text.lines().next().unwrap())).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].platforms(), ["linux/amd64", "linux/amd64/v2", "linux/arm64"]);
        assert_eq!(all[1].driver, "docker-container");
        assert_eq!(all[1].platforms(), ["linux/amd64", "linux/arm64"]);
        assert!(matches!(parse("not json"), Err(BuilderError::Unreadable(_))));
    }
}
