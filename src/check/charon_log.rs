//! How each IKE SA really authenticated, from charon's own log (the
//! gateway's `docker logs`). `swanctl --list-conns` shows the connections
//! loaded now; a connection replaced after its IKE SA was established
//! (`swanctl --load-conns` with other auth) leaves the SA as it was, so only
//! the log says what the SA itself did. charon writes, on the thread that
//! completes IKE_AUTH:
//!
//! ```text
//! 13[IKE] authentication of 'gateway-s' with pre-shared key successful
//! 13[IKE] IKE_SA a-s[1] established between 172.26.26.10[gateway-a]...172.28.28.10[gateway-s]
//! ```
//!
//! The first line is the peer's proof as this end verified it (its own
//! carries "(myself)"); `a-s[1]` is the name and `uniqueid` that
//! `swanctl --list-sas` shows. An IKE SA rekeyed into a new one keeps the
//! old one's authentication; a charon start numbers SAs from 1 again.

use std::collections::HashMap;

/// How the peer of one IKE SA authenticated, as this end's charon logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAuth {
    /// The peer's identity as logged, e.g. `gateway-s`.
    pub peer: String,
    /// The method as logged: "pre-shared key", a signature scheme such as
    /// "ED25519" or "RSA_EMSA_PKCS1_SHA2_256", "EAP"…
    pub method: String,
}

impl PeerAuth {
    pub fn is_psk(&self) -> bool {
        self.method == "pre-shared key"
    }

    /// A signature: anything charon logs that is not a shared secret, EAP
    /// or NULL authentication.
    pub fn is_public_key(&self) -> bool {
        !self.is_psk() && !self.method.starts_with("EAP") && !self.method.starts_with("NULL")
    }
}

/// The thread number and message of a charon line in the IKE group.
fn ike_message(line: &str) -> Option<(&str, &str)> {
    let (before, message) = line.split_once("[IKE] ")?;
    let thread = before.rsplit(' ').next()?;
    (!thread.is_empty() && thread.bytes().all(|b| b.is_ascii_digit())).then_some((thread, message))
}

/// `authentication of 'ID' with METHOD successful`, not "(myself)".
fn peer_proof(message: &str) -> Option<PeerAuth> {
    let rest = message.strip_prefix("authentication of '")?;
    let (peer, method) = rest.rsplit_once("' with ")?;
    let method = method.strip_suffix(" successful")?;
    Some(PeerAuth { peer: peer.to_string(), method: method.to_string() })
}

/// `IKE_SA NAME[UID] VERB between ENDPOINTS`: (name, uid, endpoints).
fn sa_event<'a>(message: &'a str, verb: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = message.strip_prefix("IKE_SA ")?;
    let (sa, endpoints) = rest.split_once(&format!(" {verb} between "))?;
    let (name, uid) = sa.strip_suffix(']')?.rsplit_once('[')?;
    Some((name, uid, endpoints))
}

/// For each IKE SA of the charon that runs now, by (name, uniqueid), how its
/// peer authenticated; None where the log shows the SA but not the proof.
pub fn peer_auths(log: &str) -> HashMap<(String, String), Option<PeerAuth>> {
    // (name, uid) -> (endpoints, proof), and the proof each thread saw last.
    let mut sas: HashMap<(String, String), (String, Option<PeerAuth>)> = HashMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut pending: HashMap<String, PeerAuth> = HashMap::new();
    for line in log.lines() {
        if line.contains("[DMN] Starting IKE charon daemon") {
            (sas, order, pending) = (HashMap::new(), Vec::new(), HashMap::new());
            continue;
        }
        let Some((thread, message)) = ike_message(line) else { continue };
        if let Some(proof) = peer_proof(message) {
            pending.insert(thread.to_string(), proof);
        } else if let Some((name, uid, endpoints)) = sa_event(message, "established") {
            let key = (name.to_string(), uid.to_string());
            sas.insert(key.clone(), (endpoints.to_string(), pending.remove(thread)));
            order.push(key);
        } else if let Some((name, uid, endpoints)) = sa_event(message, "rekeyed") {
            // The SA it replaces: the latest of that name between the same
            // ends (the line gives the old SA's ends), else of that name.
            let latest = |same_ends: bool| {
                order.iter().rev().find(|k| k.0 == name && (!same_ends || sas[*k].0 == endpoints)).cloned()
            };
            let inherited = latest(true).or_else(|| latest(false)).and_then(|k| sas[&k].1.clone());
            let key = (name.to_string(), uid.to_string());
            sas.insert(key.clone(), (endpoints.to_string(), inherited));
            order.push(key);
        }
    }
    sas.into_iter().map(|(k, (_, proof))| (k, proof)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, uid: &str) -> (String, String) {
        (name.into(), uid.into())
    }

    fn auth(peer: &str, method: &str) -> Option<PeerAuth> {
        Some(PeerAuth { peer: peer.into(), method: method.into() })
    }

    #[test]
    fn the_proof_on_the_establishing_thread_is_the_sas() {
        // Two IKE_AUTHs interleaved on threads 03 and 15 (gateway-s, responder).
        let log = "00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.18.44, x86_64)\n\
            03[IKE] authentication of 'gateway-b' with ED25519 successful\n\
            15[IKE] authentication of 'gateway-a' with pre-shared key successful\n\
            03[IKE] authentication of 'gateway-s' (myself) with ED25519 successful\n\
            03[IKE] IKE_SA b-s[1] established between 172.28.28.10[gateway-s]...172.27.27.10[gateway-b]\n\
            15[IKE] authentication of 'gateway-s' (myself) with pre-shared key\n\
            15[IKE] IKE_SA a-s[2] established between 172.28.28.10[gateway-s]...172.26.26.10[gateway-a]\n";
        let sas = peer_auths(log);
        assert_eq!(sas[&key("b-s", "1")], auth("gateway-b", "ED25519"));
        assert_eq!(sas[&key("a-s", "2")], auth("gateway-a", "pre-shared key"));
        assert!(sas[&key("a-s", "2")].as_ref().unwrap().is_psk());
        assert!(sas[&key("b-s", "1")].as_ref().unwrap().is_public_key());
    }

    #[test]
    fn a_restarted_charon_numbers_again_and_only_its_sas_count() {
        let log = "00[DMN] Starting IKE charon daemon (strongSwan 5.9.8)\n\
            13[IKE] authentication of 'gateway-s' with pre-shared key successful\n\
            13[IKE] IKE_SA a-s[1] established between 1.1.1.1[a]...2.2.2.2[s]\n\
            gateway-entrypoint: charon exited (status 137): starting it again\n\
            00[DMN] Starting IKE charon daemon (strongSwan 5.9.8)\n\
            07[IKE] authentication of 'gateway-s' with RSA_EMSA_PKCS1_SHA2_256 successful\n\
            07[IKE] IKE_SA a-s[1] established between 1.1.1.1[a]...2.2.2.2[s]\n";
        let sas = peer_auths(log);
        assert_eq!(sas.len(), 1);
        assert_eq!(sas[&key("a-s", "1")], auth("gateway-s", "RSA_EMSA_PKCS1_SHA2_256"));
    }

    #[test]
    fn a_rekeyed_sa_keeps_the_proof_of_the_one_it_replaced() {
        let log = "11[IKE] authentication of 'gateway-s' with ED25519 successful\n\
            11[IKE] IKE_SA a-s[1] established between 1.1.1.1[a]...2.2.2.2[s]\n\
            12[IKE] authentication of 'gateway-x' with pre-shared key successful\n\
            12[IKE] IKE_SA a-s[2] established between 1.1.1.1[a]...3.3.3.3[x]\n\
            09[IKE] IKE_SA a-s[3] rekeyed between 1.1.1.1[a]...2.2.2.2[s]\n\
            10[IKE] IKE_SA a-s[4] rekeyed between 1.1.1.1[a]...2.2.2.2[s]\n";
        let sas = peer_auths(log);
        assert_eq!(sas[&key("a-s", "3")], auth("gateway-s", "ED25519"));
        assert_eq!(sas[&key("a-s", "4")], auth("gateway-s", "ED25519"));
    }

    #[test]
    fn an_sa_without_a_proof_is_known_but_unproven() {
        let log = "14[CFG] replaced vici connection: a-s\n\
            05[IKE] authentication of 'gateway-a' (myself) with pre-shared key\n\
            05[IKE] IKE_SA a-s[1] established between 1.1.1.1[a]...2.2.2.2[s]\n\
            this line is not charon's [IKE] at all\n";
        let sas = peer_auths(log);
        assert_eq!(sas[&key("a-s", "1")], None);
        assert_eq!(sas.len(), 1);
        assert!(peer_auths("").is_empty());
    }

    #[test]
    fn timestamps_before_the_thread_are_allowed() {
        let log = "17:33:58 13[IKE] authentication of 'O=x, CN=gw's' with ECDSA_WITH_SHA384_DER successful\n\
            17:33:58 13[IKE] IKE_SA a-s[7] established between 1.1.1.1[a]...2.2.2.2[s]\n";
        assert_eq!(peer_auths(log)[&key("a-s", "7")], auth("O=x, CN=gw's", "ECDSA_WITH_SHA384_DER"));
        let eap = PeerAuth { peer: "p".into(), method: "EAP_MSCHAPV2".into() };
        assert!(!eap.is_public_key() && !eap.is_psk());
    }
}
