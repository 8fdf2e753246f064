//! The student's starting files in the legacy format (`lab init --legacy`):
//! `ipsec.conf` and `ipsec.secrets`, which starter reads and hands to charon
//! through the stroke plugin, as the study's and many courses' labs do. They
//! state what the assignment requires, as the swanctl.conf template does,
//! and both load as they are and configure no tunnel.

use crate::scenario::{Node, Scenario};

use super::Credentials;
use super::templates::{Doc, credentials, requirements};

/// The ipsec.conf template of gateway `gw`.
pub(super) fn ipsec_conf(s: &Scenario, gw: &Node, creds: Credentials) -> String {
    let me = &gw.name;
    let mut d = Doc::default();
    d.para(&format!("ipsec.conf of {me} (scenario {}): your IKE configuration, in the legacy format.", s.name));
    d.blank();
    d.para(&format!(
        "imgtool copies this file to /etc/ipsec.conf in {me}, where starter reads it and gives it to \
         charon; after an edit, `imgtool lab reload` starts starter again with it (inside the gateway, \
         `ipsec reload` works too). As it is, it is valid and configures no tunnel. Lines that start with \
         # are comments; a conn's settings are indented."
    ));
    d.para("Every setting: https://manpages.debian.org/bookworm/strongswan-starter/ipsec.conf.5.en.html");
    requirements(&mut d, s, gw, true);
    credentials(&mut d, me, creds, true);
    d.blank();
    d.para("TODO: write one conn per tunnel above, shaped like this (replace each <...>):");
    for line in ["  conn <tunnel name>", "    keyexchange = ikev2", "    left = <this gateway's address>", "    ..."] {
        d.verbatim(line);
    }
    let mut c = d.0;
    c += "\nconfig setup\n";
    for t in s.tunnels_of(me) {
        c += &format!("\n# TODO: conn {}\n", t.name);
    }
    c
}

/// The ipsec.secrets template of gateway `gw`.
pub(super) fn ipsec_secrets(s: &Scenario, gw: &Node, creds: Credentials) -> String {
    let me = &gw.name;
    let mut d = Doc::default();
    d.para(&format!("ipsec.secrets of {me} (scenario {}): the secrets your ipsec.conf uses.", s.name));
    d.blank();
    d.para(&format!(
        "imgtool copies this file to /etc/ipsec.secrets in {me}; `imgtool lab reload` loads it again \
         with ipsec.conf. One entry per line: optional identities, then \" : \", then the secret."
    ));
    d.para("Syntax: https://manpages.debian.org/bookworm/strongswan-starter/ipsec.secrets.5.en.html");
    d.blank();
    match creds {
        Credentials::Certificates => d.para(&format!(
            "TODO: name {me}'s private key (the file in /etc/ipsec.d/private/, see ipsec.conf), as a PKCS8 entry."
        )),
        Credentials::Psk => {
            for t in s.tunnels_of(me) {
                d.para(&format!(
                    "TODO: the pre-shared key of tunnel {}, for the identities of its two gateways.",
                    t.name
                ));
            }
        }
    }
    d.0
}
