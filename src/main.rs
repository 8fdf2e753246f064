//! The imgtool binary: parses arguments, calls the library, and turns the
//! outcome into one line and an exit code (documented in `--help`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use imgtool::bundle::BundleRequest;
use imgtool::check;
use imgtool::cli::{Cli, Command};
use imgtool::cli::{LabCommand, UpArgs};
use imgtool::config::Config;
use imgtool::engine::Engine;
use imgtool::progress::Progress;
use imgtool::publish::MergeRequest;
use imgtool::scenario::Scenario;
use imgtool::testbed::course::Configs;
use imgtool::testbed::{self, UpRequest};

const EXIT_ERROR: u8 = 1;
const EXIT_CHECK_FAILED: u8 = 3;
const EXIT_INTERRUPTED: u8 = 130;

const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    imgtool::interrupt::install();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("imgtool: error: {}", chain.join(": "));
            ExitCode::from(if imgtool::interrupt::interrupted() { EXIT_INTERRUPTED } else { EXIT_ERROR })
        }
    }
}

/// A bad value (a testbed name, a platform, a number) is one line, like
/// every other error; clap's own layout stays for help, versions and
/// missing arguments, where its usage lines are the message.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        e.exit();
    }
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        _ => String::new(),
    };
    let arg = context(ContextKind::InvalidArg);
    // The value is quoted and escaped: a newline in it stays on this line.
    let value = format!("{:?}", context(ContextKind::InvalidValue));
    let why = match std::error::Error::source(&e) {
        Some(source) => source.to_string(),
        None => format!("invalid value {value}; possible values: {}", context(ContextKind::ValidValue)),
    };
    eprintln!("imgtool: error: {arg}: {why}");
    ExitCode::from(EXIT_USAGE)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn run(cli: Cli) -> Result<u8> {
    let mut engine = Engine::default();
    engine.verbose = cli.verbose;
    let config = || Config::discover(cli.config.as_deref());
    match cli.command {
        Command::Up(UpArgs {
            scenario,
            name,
            platform,
            build,
            psk,
            driver,
            esp,
            keep,
            timeout,
            registry,
            tag,
            bundle,
            lab,
            bare,
        }) => {
            let progress = Progress::new(cli.quiet);
            let scenario = match (scenario, &lab) {
                (Some(s), _) => s,
                (None, Some(dir)) => lab_scenario(dir)?,
                (None, None) => imgtool::scenario::DEFAULT.to_string(),
            };
            let (configs, graded) = match (&lab, bare) {
                (Some(dir), _) => {
                    let s = Scenario::load(&scenario)?;
                    (Configs::Lab(imgtool::lab::load(dir, &s)?), Some(s))
                }
                (None, true) => (Configs::Bare, None),
                (None, false) => (Configs::Finished, None),
            };
            let config = config()?.with_registry(registry.as_deref(), tag.as_deref())?;
            let images = match &bundle {
                Some(file) => {
                    let (images, loaded) =
                        imgtool::bundle::up_images(&engine, &config, file, platform.as_deref(), &progress)?;
                    progress.note(loaded.to_string().lines().next().unwrap_or_default());
                    Some(images)
                }
                None => None,
            };
            let req = UpRequest {
                scenario,
                name: name.name,
                platform,
                build,
                psk,
                driver: driver.into(),
                esp: esp.into(),
                keep,
                timeout,
                images,
                configs,
            };
            let summary = testbed::up(&engine, &config, &req, &progress)?;
            progress.finish();
            if summary.already_up {
                println!(
                    "testbed {} already runs {} on {}: nothing changed",
                    req.name, summary.scenario, summary.platform
                );
                return Ok(0);
            }
            for problem in &summary.lab_problems {
                eprintln!("imgtool: {problem}");
            }
            // A lab's testbed shows the student's score, as `check` grades it.
            let report = graded.as_ref().map(|s| imgtool::grade::grade(s, &summary.checks));
            match &report {
                Some(report) => print!("{}", report.render(imgtool::grade::Format::Table)),
                None => print!("{}", check::render(&summary.checks)),
            }
            println!(
                "\nimages    {}\nscenario  {}\nplatform  {}\nnetwork   {}\nnodes     {}\ntunnels   {}\nverified  {:.1} s after start\nmemory    {}",
                summary.images_from,
                summary.scenario,
                summary.platform,
                summary.driver,
                summary.nodes,
                summary.tunnels,
                summary.seconds,
                match &summary.memory {
                    Ok(m) =>
                        format!("{} now, peak {} ({} nodes, {})", mib(m.current), mib(m.peak), summary.nodes, m.source),
                    Err(why) => format!("unknown ({why})"),
                }
            );
            if cli.verbose {
                // Where the time went, for the next person (scripts/bench-testbed.sh reads these lines).
                println!("\nphase  seconds  step");
                for (step, took) in progress.phases() {
                    println!("phase  {:7.3}  {step}", took.as_secs_f64());
                }
            }
            if let (Some(report), Some(dir)) = (&report, &lab) {
                // The testbed is up, which is what `up` was for; the score is the student's to raise.
                if !report.full_marks {
                    println!(
                        "\nnot full marks yet: edit the files in {}, then `imgtool check --lab {}` loads and grades them again",
                        dir.display(),
                        dir.display()
                    );
                }
                Ok(0)
            } else if bare {
                println!(
                    "\nbare: routing and NAT, no tunnel, no firewall; `imgtool lab init DIR {}` writes a start, `imgtool lab reload DIR` loads it",
                    summary.scenario
                );
                Ok(0)
            } else if check::all_passed(&summary.checks) {
                Ok(0)
            } else {
                eprintln!(
                    "imgtool: the testbed is up but not every check passed: see FAIL lines; `imgtool check` reruns them"
                );
                Ok(EXIT_CHECK_FAILED)
            }
        }
        Command::Lab(action) => lab_command(&engine, action, || Ok(config()?)),
        Command::Bundle(action) => {
            let progress = Progress::new(cli.quiet);
            let config = config()?;
            let report = match action.request() {
                BundleRequest::Save(req) => imgtool::bundle::save(&engine, &config, &req, &progress)?.to_string(),
                BundleRequest::Verify(file) => imgtool::bundle::verify(&config, &file, &progress)?.to_string(),
                BundleRequest::Load(file) => imgtool::bundle::load(&engine, &config, &file, &progress)?.to_string(),
            };
            progress.finish();
            print!("{report}");
            Ok(0)
        }
        Command::Check { name, format, lab } => {
            let progress = Progress::new(cli.quiet);
            if let Some(dir) = &lab {
                lab_into(&engine, &config()?, dir, &name.name, &progress)?;
            }
            let tb = testbed::find(&engine, &name.name)?;
            let results = check::run(&engine, &tb, &progress)?;
            progress.finish();
            let report = imgtool::grade::grade(&tb.scenario, &results);
            print!("{}", report.render(format.into()));
            Ok(if report.full_marks { 0 } else { EXIT_CHECK_FAILED })
        }
        Command::Status { name } => {
            let tb = testbed::find(&engine, &name.name)?;
            print!("{}", testbed::ops::status(&engine, &tb)?);
            Ok(0)
        }
        Command::Exec { node, cmd, name } => {
            let tb = testbed::find(&engine, &name.name)?;
            let code = testbed::ops::exec(&engine, &tb, &node, &cmd)?;
            Ok(u8::try_from(code).unwrap_or(EXIT_ERROR))
        }
        Command::Capture { node, iface, file, count, duration, name } => {
            let tb = testbed::find(&engine, &name.name)?;
            let code = testbed::ops::capture(&engine, &tb, &node, &iface, &file, count, duration)?;
            Ok(u8::try_from(code).unwrap_or(EXIT_ERROR))
        }
        Command::Down { name } => {
            let progress = Progress::new(cli.quiet);
            let (containers, networks) = testbed::down(&engine, &name.name, &progress)?;
            progress.finish();
            println!("testbed {}: removed {containers} containers and {networks} networks", name.name);
            Ok(0)
        }
        Command::Render { scenario, output, name, driver, platform } => {
            let written =
                imgtool::compose::write(&engine, &config()?, &scenario, &name.name, driver.into(), platform, &output)
                    .with_context(|| format!("rendering {scenario} into {}", output.display()))?;
            println!("wrote {}: run it with `docker compose -f {} up -d`", written.display(), written.display());
            Ok(0)
        }
        Command::Build(args) => {
            let req = args.request()?;
            imgtool::publish::build(&engine, &config()?, &req, cli.quiet)
        }
        Command::Merge { files, publish, push } => {
            let req = MergeRequest { files, destination: publish.destination(), push };
            imgtool::publish::merge(&config()?, &req)
        }
        Command::Inspect { reference, ca_cert, json } => {
            imgtool::publish::inspect(&reference, ca_cert.as_deref(), json)
        }
        Command::Mirror(args) => {
            let namespace = config()?.registry.namespace;
            let req = args.request();
            let students = format!(
                "students: imgtool up --registry {}:{}/{namespace}",
                imgtool::mirror::student_host(&req.listen),
                req.port
            );
            imgtool::mirror::serve(&req, |line| println!("{line}\n{students}"))?;
            Ok(0)
        }
        Command::Doctor => {
            let config = config()?;
            let probe = config.reference("client");
            let findings = imgtool::doctor::run(&engine, Some(&probe), &config.platforms);
            print!("{}", imgtool::doctor::render(&findings));
            Ok(if imgtool::doctor::all_required_ok(&findings) { 0 } else { EXIT_ERROR })
        }
    }
}

/// `imgtool lab ...`: course mode's folders.
fn lab_command(engine: &Engine, action: LabCommand, config: impl Fn() -> Result<Config>) -> Result<u8> {
    match action {
        LabCommand::Init { dir, scenario, legacy } => {
            let scenario = Scenario::load(&scenario)?;
            imgtool::lab::init(&dir, &scenario, &imgtool::lab::InitOptions { legacy, ..Default::default() })?;
            println!(
                "wrote {}: its README.md says what to do; then `imgtool up {} --lab {}`",
                dir.display(),
                scenario.name,
                dir.display()
            );
            Ok(0)
        }
        LabCommand::Reload { dir, name } => {
            let tb = testbed::find(engine, &name.name)?;
            let files = imgtool::lab::load(&dir, &tb.scenario)?;
            let problems = testbed::course::reload(engine, &tb, &files)?;
            for p in &problems {
                eprintln!("imgtool: {p}");
            }
            if problems.is_empty() {
                println!("loaded {} into testbed {}: `imgtool check` grades it", dir.display(), name.name);
                Ok(0)
            } else {
                Ok(EXIT_ERROR)
            }
        }
        LabCommand::Solution { dir, scenario, legacy } => {
            anyhow::ensure!(
                config()?.solutions,
                "this imgtool is a student build: it writes no reference solution (imgtool.toml: [course] solutions = false)"
            );
            let scenario = Scenario::load(&scenario)?;
            imgtool::lab::solution(&dir, &scenario, legacy)?;
            println!(
                "wrote the reference solution of {} to {}: `imgtool up --lab {}` runs it",
                scenario.name,
                dir.display(),
                dir.display()
            );
            Ok(0)
        }
    }
}

/// `check --lab DIR`: the folder's files into the running testbed
/// (`lab reload`), or a course-mode testbed started with them (`up --lab`).
/// Problems with the files are printed; the checks then say the rest.
fn lab_into(
    engine: &Engine,
    config: &Config,
    dir: &std::path::Path,
    name: &imgtool::testbed::name::TestbedName,
    progress: &Progress,
) -> Result<()> {
    let problems = match testbed::find(engine, name) {
        Ok(tb) => {
            let files = imgtool::lab::load(dir, &tb.scenario)?;
            testbed::course::reload(engine, &tb, &files)?
        }
        Err(testbed::TestbedError::NotRunning(_)) => {
            let scenario = lab_scenario(dir)?;
            let files = imgtool::lab::load(dir, &Scenario::load(&scenario)?)?;
            let req = UpRequest { configs: Configs::Lab(files), ..UpRequest::new(scenario, name.clone()) };
            testbed::up(engine, config, &req, progress)?.lab_problems
        }
        Err(e) => return Err(e.into()),
    };
    for p in &problems {
        eprintln!("imgtool: {p}");
    }
    Ok(())
}

/// The scenario a lab folder is for: its lab.toml's, else the default.
fn lab_scenario(dir: &std::path::Path) -> Result<String> {
    Ok(imgtool::lab::recorded_scenario(dir)?.unwrap_or_else(|| imgtool::scenario::DEFAULT.to_string()))
}
