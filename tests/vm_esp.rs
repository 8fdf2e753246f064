//! Kernel ESP, proven: these machines' kernel has no ESP, so a QEMU VM
//! (scripts/vm/) boots Debian 12's stock kernel, which has it, with a Docker
//! engine inside. imgtool runs here and drives that daemon over TCP: a
//! remote daemon that shares no file, /proc, /sys or interface with it.
//! site-to-site-ipv6 and host-to-host pass with kernel-netlink on every
//! gateway (and the router sees plain ESP, IP protocol 50).
//! Fails (never skips) without QEMU or the VM's disk; scripts/vm/ makes both.

mod common;
use common::*;

use imgtool::check::pcap::{self, Class};

/// The VM, booted once for this test and stopped when it ends.
struct Vm {
    docker_host: String,
}

impl Vm {
    fn start() -> Vm {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/vm");
        let built = sh(&format!("bash {dir}/build-disk.sh"));
        assert_eq!(built.code, 0, "cannot build the VM's disk (scripts/vm/build-disk.sh):\n{}", built.describe());
        let started = sh(&format!("bash {dir}/start.sh"));
        assert_eq!(started.code, 0, "cannot boot the ESP VM (scripts/vm/start.sh):\n{}", started.describe());
        let docker_host = started
            .stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("export DOCKER_HOST="))
            .unwrap_or_else(|| panic!("start.sh printed no DOCKER_HOST:\n{}", started.describe()))
            .to_string();
        let vm = Vm { docker_host };
        let images = ["router", "client", "gateway"].map(|i| format!("docker.io/vpnlab/{i}:latest")).join(" ");
        vm.host_sh(&format!("bash {dir}/load-images.sh {images}")).success();
        vm
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("DOCKER_HOST", self.docker_host.as_str())]
    }

    fn imgtool(&self, args: &[&str]) -> Run {
        imgtool_env(args, &self.env())
    }

    /// A host shell command with DOCKER_HOST pointing at the VM.
    fn host_sh(&self, script: &str) -> Run {
        sh(&format!("export DOCKER_HOST={}\n{script}", self.docker_host))
    }

    /// What the VM's Docker host shows of containers, networks and links.
    fn snapshot(&self) -> String {
        self.host_sh(
            "docker ps -a --format '{{.Names}}' | sort; docker network ls --format '{{.Name}}' | sort; \
             docker run --rm --network host --entrypoint ip docker.io/vpnlab/client:latest -o link | sed 's/^[0-9]*: //; s/[:@].*//' | sort",
        )
        .success()
        .stdout
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        sh(concat!("bash ", env!("CARGO_MANIFEST_DIR"), "/scripts/vm/stop.sh"));
    }
}

/// up with `esp` (which runs every check), then the ESP backend of every
/// gateway, a router capture while a client calls the server, and down.
fn round_trip(vm: &Vm, scenario: &str, esp: &str) {
    let name = format!("v-{}", scenario.replace("site-to-site", "s2s").replace("host-to-host", "h2h"));
    let before = vm.snapshot();
    // TCG emulates every instruction: a node takes a minute, not a second.
    let up = vm.imgtool(&["up", scenario, "--name", &name, "--esp", esp, "--timeout", "400"]);
    if up.code != 0 {
        vm.imgtool(&["down", "--name", &name]);
    }
    let up = up.success();
    assert!(up.stdout.lines().filter(|l| l.starts_with("PASS")).count() >= 9, "{}", up.describe());
    assert!(!up.stdout.contains("FAIL"), "{}", up.describe());
    // For docs/benchmarks.md: the time to a verified testbed under TCG.
    let verified = up.stdout.lines().find(|l| l.starts_with("verified")).unwrap_or_default();
    eprintln!("vm: {scenario} --esp {esp}: {verified}");
    let backends = vm.host_sh(&format!(
        "for g in $(docker ps --filter label=io.imgtool.testbed={name} --filter label=io.imgtool.node --format '{{{{.Names}}}}' | grep gateway); do \
         printf '%s ' $g; docker exec $g cat /run/imgtool/esp-backend; done"
    ));
    let target = imgtool::scenario::Scenario::load(scenario).unwrap().service_addr().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("isp-a.pcap");
    let capture = std::thread::scope(|s| {
        let cap = s.spawn(|| {
            let f = file.to_str().unwrap();
            vm.imgtool(&["capture", "router", "isp-a", "-w", f, "-c", "6", "--duration", "60", "--name", &name])
        });
        std::thread::sleep(std::time::Duration::from_secs(3));
        vm.imgtool(&["exec", "client-a1", "--name", &name, "--", "ping", "-c", "10", "-i", "0.5", "-W", "3", &target]);
        cap.join().unwrap()
    });
    vm.imgtool(&["down", "--name", &name]).success();

    let backends = backends.success().stdout;
    let want = if esp == "kernel" { "kernel-netlink" } else { "kernel-libipsec" };
    assert_eq!(backends.lines().count(), 3, "three gateways:\n{backends}");
    assert!(backends.lines().all(|l| l.ends_with(want)), "not every gateway uses {want}:\n{backends}");
    capture.success();
    let cap = pcap::parse(&std::fs::read(&file).unwrap()).expect("a readable pcap");
    let (esp_count, in_udp) = (
        cap.packets.iter().filter(|p| p.class == Class::Esp).count(),
        cap.packets.iter().filter(|p| p.class == Class::EspInUdp).count(),
    );
    if esp == "kernel" {
        assert!(esp_count >= 1 && in_udp == 0, "kernel ESP should be IP protocol 50: {esp_count} ESP, {in_udp} in UDP");
    } else {
        assert!(in_udp >= 1, "libipsec sends ESP in UDP: {esp_count} ESP, {in_udp} in UDP");
    }
    assert_eq!(vm.snapshot(), before, "down left something behind in the VM");
}

#[test]
fn kernel_esp_in_a_vm_with_a_stock_debian_kernel() {
    let _g = docker_lock();
    // This checkout's images, loaded into the VM.
    build_checkout_images();
    let vm = Vm::start();
    let doctor = vm.imgtool(&["doctor"]).success();
    for line in [
        "remote (tcp://127.0.0.1",
        "kernel ESP IPv4  the daemon's kernel has ESP",
        "kernel ESP IPv6  the daemon's kernel has ESP",
    ] {
        assert!(doctor.stdout.contains(line), "doctor in the VM lacks '{line}':\n{}", doctor.describe());
    }
    // Kernel ESP for IPv6, and for IPv4 with policy routing (host-to-host).
    // Left out of CI, about 2 minutes each under TCG in a run that must stay
    // under 45 (docs/benchmarks.md): site-to-site IPv4, whose kernel path
    // these two cover, and `--esp libipsec` where the kernel has ESP. By
    // hand: boot the VM with scripts/vm/start.sh, then `imgtool up` with the
    // DOCKER_HOST it prints.
    for scenario in ["site-to-site-ipv6", "host-to-host"] {
        round_trip(&vm, scenario, "kernel");
    }
}
