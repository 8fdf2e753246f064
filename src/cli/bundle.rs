//! `imgtool bundle ...`: its flags, mapped to the library's [`BundleRequest`].

use std::path::PathBuf;

use clap::Subcommand;

use crate::bundle::{BundleRequest, SaveRequest};

/// `imgtool bundle ...`.
#[derive(Subcommand, Debug)]
pub enum BundleCommand {
    /// Write every image of the set, for the chosen platforms, into one OCI image-layout tar (each blob once)
    #[command(
        after_help = "Examples:\n  imgtool bundle save vpnlab.tar\n  imgtool bundle save vpnlab-amd64.tar --platform linux/amd64\n  imgtool bundle save class.tar --registry 127.0.0.1:5000/vpnlab --tag 1.2.0"
    )]
    Save {
        /// The bundle to write (replaced only once complete)
        file: PathBuf,
        /// Platform to include (repeatable; default: imgtool.toml's platforms)
        #[arg(long = "platform", value_name = "OS/ARCH")]
        platforms: Vec<String>,
        /// Save the images of this registry and namespace instead of imgtool.toml's, e.g. 127.0.0.1:5000/vpnlab
        #[arg(long, value_name = "HOST/NAMESPACE")]
        registry: Option<String>,
        /// Image tag to save (default: imgtool.toml's, "latest")
        #[arg(long)]
        tag: Option<String>,
    },
    /// Check every blob's digest and size against the bundle's indexes and manifests
    #[command(after_help = "Example:\n  imgtool bundle verify vpnlab.tar")]
    Verify {
        /// The bundle to check
        file: PathBuf,
    },
    /// Verify a bundle, then load the images the Docker daemon lacks (no registry needed)
    #[command(
        after_help = "Examples:\n  imgtool bundle load vpnlab.tar\n  DOCKER_HOST=ssh://user@lab imgtool bundle load vpnlab.tar"
    )]
    Load {
        /// The bundle to load
        file: PathBuf,
    },
}

impl BundleCommand {
    pub fn request(self) -> BundleRequest {
        match self {
            BundleCommand::Save { file, platforms, registry, tag } => {
                BundleRequest::Save(SaveRequest { file, platforms, registry, tag })
            }
            BundleCommand::Verify { file } => BundleRequest::Verify(file),
            BundleCommand::Load { file } => BundleRequest::Load(file),
        }
    }
}
