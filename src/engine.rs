//! The Docker CLI wrapper: the only place that spawns `docker`. Every call
//! goes through [`Engine`], so failures carry the shell-quoted command line,
//! the exit status and the tail of stderr, ready to copy and rerun.

use std::ffi::OsString;
use std::io;
use std::process::Output;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("docker is not installed (or not on PATH): install Docker, e.g. with scripts/setup-debian.sh")]
    NotInstalled,
    #[error("the Docker daemon is not running: start it (scripts/setup-debian.sh starts one) and retry")]
    DaemonDown,
    #[error("cannot run `{cmd}`: {source}")]
    Spawn { cmd: String, source: io::Error },
    #[error("`{cmd}` failed ({status}): {tail}")]
    Failed { cmd: String, status: String, tail: String },
}

impl EngineError {
    /// The stderr tail of a failed command, for callers that react to it.
    pub fn stderr(&self) -> &str {
        match self {
            EngineError::Failed { tail, .. } => tail,
            _ => "",
        }
    }
}

/// What a finished docker command said.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

#[derive(Debug, Clone)]
pub struct Engine {
    docker: OsString,
    /// Print each command before running it (`-v`).
    pub verbose: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Engine { docker: std::env::var_os("IMGTOOL_DOCKER").unwrap_or_else(|| "docker".into()), verbose: false }
    }
}

/// A running [`Engine::follow`]: read by one thread, stopped from any.
pub struct Follow {
    reader: duct::ReaderHandle,
}

impl Follow {
    /// Hands each line to `on_line` until it returns false or the stream ends.
    pub fn each_line(&self, mut on_line: impl FnMut(&str) -> bool) {
        use std::io::BufRead;
        for line in io::BufReader::new(&self.reader).lines() {
            let Ok(line) = line else { return };
            if !on_line(line.trim_end_matches('\r')) {
                return;
            }
        }
    }

    /// Ends the command (a reader blocked in [`Follow::each_line`] then sees the end).
    pub fn stop(&self) {
        let _ = self.reader.kill();
    }
}

/// Shell-quotes one argument, only where needed.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

impl Engine {
    fn command_line(&self, args: &[String]) -> String {
        std::iter::once(self.docker.to_string_lossy().into_owned())
            .chain(args.iter().map(|a| quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expr(&self, args: &[String]) -> duct::Expression {
        if self.verbose {
            eprintln!("+ {}", self.command_line(args));
        }
        // Its own process group: Ctrl-C reaches imgtool, which lets the
        // command finish (see `interrupt`), not the command half-way.
        duct::cmd(&self.docker, args).before_spawn(|cmd| {
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(cmd, 0);
            // Windows: a new process group does not get the console's Ctrl-C.
            #[cfg(windows)]
            {
                const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
                std::os::windows::process::CommandExt::creation_flags(cmd, CREATE_NEW_PROCESS_GROUP);
            }
            Ok(())
        })
    }

    fn spawn_error(&self, args: &[String], source: io::Error) -> EngineError {
        match source.kind() {
            io::ErrorKind::NotFound => EngineError::NotInstalled,
            _ => EngineError::Spawn { cmd: self.command_line(args), source },
        }
    }

    fn classify(&self, args: &[String], out: io::Result<Output>) -> Result<Run, EngineError> {
        let out = out.map_err(|source| self.spawn_error(args, source))?;
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if run.stderr.contains("Cannot connect to the Docker daemon") || run.stderr.contains("docker daemon running?") {
            return Err(EngineError::DaemonDown);
        }
        Ok(run)
    }

    /// Runs docker and returns what it said, whatever its exit status.
    /// stdout and stderr are drained together, so a chatty child cannot block.
    pub fn output<S: AsRef<str>>(&self, args: &[S]) -> Result<Run, EngineError> {
        self.output_env(args, &[])
    }

    /// [`Engine::output`] with extra environment variables (e.g. SOURCE_DATE_EPOCH).
    pub fn output_env<S: AsRef<str>>(&self, args: &[S], env: &[(&str, &str)]) -> Result<Run, EngineError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let mut expr = self.expr(&args).stdout_capture().stderr_capture().unchecked();
        for (k, v) in env {
            expr = expr.env(k, v);
        }
        self.classify(&args, expr.run())
    }

    /// Runs docker with stdout and stderr merged, handing each line to
    /// `on_line` as it comes (for progress); returns everything it said (in
    /// `stderr`) and its exit status.
    pub fn output_streaming<S: AsRef<str>>(
        &self,
        args: &[S],
        env: &[(&str, &str)],
        mut on_line: impl FnMut(&str),
    ) -> Result<Run, EngineError> {
        use std::io::BufRead;
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let mut expr = self.expr(&args).stderr_to_stdout().unchecked();
        for (k, v) in env {
            expr = expr.env(k, v);
        }
        let spawn_error = |source: io::Error| self.spawn_error(&args, source);
        let reader = expr.reader().map_err(spawn_error)?;
        let mut all = String::new();
        for line in std::io::BufReader::new(&reader).lines() {
            let line = line.map_err(spawn_error)?;
            on_line(&line);
            all.push_str(&line);
            all.push('\n');
        }
        let code = reader.try_wait().map_err(spawn_error)?.and_then(|o| o.status.code()).unwrap_or(-1);
        let run = Run { code, stdout: String::new(), stderr: all };
        if run.stderr.contains("Cannot connect to the Docker daemon") {
            return Err(EngineError::DaemonDown);
        }
        Ok(run)
    }

    /// Starts a docker command that runs until stopped (`logs --follow`),
    /// its stdout and stderr merged into one stream of lines.
    pub fn follow<S: AsRef<str>>(&self, args: &[S]) -> Result<Follow, EngineError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let reader = self.expr(&args).stderr_to_stdout().unchecked().reader();
        Ok(Follow { reader: reader.map_err(|source| self.spawn_error(&args, source))? })
    }

    /// `value` if `run` succeeded, else the error carrying the stderr tail.
    fn checked<T>(&self, args: &[String], run: &Run, value: T) -> Result<T, EngineError> {
        if run.ok() {
            Ok(value)
        } else {
            Err(EngineError::Failed {
                cmd: self.command_line(args),
                status: format!("exit {}", run.code),
                tail: last_lines(&run.stderr, 3),
            })
        }
    }

    /// Runs docker; a non-zero exit is an error carrying the stderr tail.
    pub fn run<S: AsRef<str>>(&self, args: &[S]) -> Result<String, EngineError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let run = self.output(&args)?;
        self.checked(&args, &run, run.stdout.clone())
    }

    /// Runs docker with `input` on its stdin (a tar stream for `docker cp -`,
    /// a ruleset for `nft -f /dev/stdin`); a non-zero exit is an error.
    pub fn run_input<S: AsRef<str>>(&self, args: &[S], input: Vec<u8>) -> Result<String, EngineError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let out = self.expr(&args).stdin_bytes(input).stdout_capture().stderr_capture().unchecked().run();
        let run = self.classify(&args, out)?;
        self.checked(&args, &run, run.stdout.clone())
    }

    /// Runs docker with the file at `input` on its stdin (`docker load` of a
    /// bundle: streamed, so it works where the daemon shares no filesystem
    /// with imgtool); a non-zero exit is an error.
    pub fn run_input_file<S: AsRef<str>>(&self, args: &[S], input: &std::path::Path) -> Result<String, EngineError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let out = self.expr(&args).stdin_path(input).stdout_capture().stderr_capture().unchecked().run();
        let run = self.classify(&args, out)?;
        self.checked(&args, &run, run.stdout.clone())
    }

    /// Runs docker and hands its stdout, as a stream, to `consume` (`docker
    /// save`: hundreds of MB, never held in memory). A failed command wins
    /// over what `consume` said of its truncated output.
    pub fn read_stdout<S: AsRef<str>, T, E: From<EngineError>>(
        &self,
        args: &[S],
        consume: impl FnOnce(&mut dyn io::Read) -> Result<T, E>,
    ) -> Result<T, E> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let reader = self.expr(&args).stderr_capture().unchecked().reader().map_err(|e| self.spawn_error(&args, e))?;
        let value = consume(&mut &reader);
        let exited = reader.try_wait().ok().flatten().is_some();
        if value.is_err() && !exited {
            let _ = reader.kill();
            return value;
        }
        // Drains what is left, so the child has exited and its status is known.
        let _ = io::copy(&mut &reader, &mut io::sink());
        let out = reader.try_wait().map_err(|e| self.spawn_error(&args, e))?;
        let (code, stderr) = out.map_or((-1, String::new()), |o| {
            (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
        });
        let run = Run { code, stdout: String::new(), stderr };
        if run.stderr.contains("Cannot connect to the Docker daemon") {
            return Err(EngineError::DaemonDown.into());
        }
        self.checked(&args, &run, ())?;
        value
    }

    /// Runs docker and returns raw stdout bytes (for pcap files and such).
    pub fn run_bytes<S: AsRef<str>>(&self, args: &[S]) -> Result<Vec<u8>, EngineError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let out = self.expr(&args).stdout_capture().stderr_capture().unchecked().run();
        let raw = out.as_ref().map(|o| o.stdout.clone()).unwrap_or_default();
        let run = self.classify(&args, out)?;
        self.checked(&args, &run, raw)
    }

    /// Runs docker attached to this terminal (exec, capture); returns its exit code.
    pub fn interactive<S: AsRef<str>>(
        &self,
        args: &[S],
        stdout_file: Option<&std::path::Path>,
    ) -> Result<i32, EngineError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        if self.verbose {
            eprintln!("+ {}", self.command_line(&args));
        }
        // Attached commands stay in the terminal's process group: Ctrl-C is theirs.
        let mut expr = duct::cmd(&self.docker, &args).unchecked();
        if let Some(path) = stdout_file {
            expr = expr.stdout_path(path);
        }
        let status = expr.run().map_err(|source| self.spawn_error(&args, source))?;
        Ok(status.status.code().unwrap_or(130))
    }

    /// Fails with [`EngineError::DaemonDown`] unless the daemon answers.
    pub fn ping(&self) -> Result<(), EngineError> {
        self.run(&["version", "--format", "{{.Server.Version}}"]).map(|_| ())
    }
}

/// The last `n` non-empty lines of `text`, joined on one line.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return "no output".into();
    }
    let joined = lines[lines.len().saturating_sub(n)..].join(" | ");
    joined.chars().take(600).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(quote("run"), "run");
        assert_eq!(quote("name=isp-a,mac-address=02:00:00:01:01:01"), "name=isp-a,mac-address=02:00:00:01:01:01");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\n\nb\nc\nd\n", 2), "c | d");
        assert_eq!(last_lines("  \n", 2), "no output");
    }

    #[test]
    fn missing_docker_binary_is_not_installed() {
        let e = Engine { docker: "/nonexistent/docker".into(), verbose: false };
        assert!(matches!(e.run(&["version"]), Err(EngineError::NotInstalled)));
    }

    #[cfg(unix)]
    #[test]
    fn follow_hands_over_both_streams_and_stop_ends_a_blocked_reader() {
        // `sh` stands in for `docker logs --follow`: lines, then nothing, forever.
        let e = Engine { docker: "sh".into(), verbose: false };
        let follow = e.follow(&["-c", "echo one; echo two >&2; exec sleep 60"]).unwrap();
        let mut seen = Vec::new();
        follow.each_line(|line| {
            seen.push(line.to_string());
            seen.len() < 2
        });
        assert_eq!(seen, ["one", "two"]);
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut more = 0;
                follow.each_line(|_| {
                    more += 1;
                    true
                });
                more
            });
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert!(!reader.is_finished(), "the reader should block on the silent command");
            follow.stop();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !reader.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(reader.is_finished(), "stop should end the reader's stream");
            assert_eq!(reader.join().unwrap(), 0);
        });
    }

    #[test]
    fn failure_carries_command_status_and_stderr() {
        // `sh` stands in for docker here: this checks our error shape only.
        let e = Engine { docker: "sh".into(), verbose: false };
        let err = e.run(&["-c", "echo first >&2; echo boom >&2; exit 3"]).unwrap_err().to_string();
        assert_eq!(err, "`sh -c 'echo first >&2; echo boom >&2; exit 3'` failed (exit 3): first | boom");
    }
}
