//! A testbed's certificates, made in-process (rcgen, on the ring that rustls
//! already links): a fresh Ed25519 CA and one certificate per gateway, laid
//! out as strongSwan's swanctl directories want them. The CA's key lives
//! only in memory and is dropped when the certificates are signed.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ED25519,
};

/// How long the certificates are valid: a testbed lives hours, not weeks.
const LIFETIME: Duration = Duration::from_secs(30 * 86_400);
/// Valid from a day back: the daemon's clock (Docker Desktop's VM after a
/// laptop's sleep, a remote host) can lag imgtool's, and a certificate
/// "not valid yet" there would fail every tunnel.
const BACKDATE: Duration = Duration::from_secs(86_400);

/// One file of a gateway's credentials: its path under the state directory
/// (`nodes/<gateway>/swanctl/...`) and its PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialFile {
    pub path: String,
    pub pem: String,
}

/// A CA named `ca_cn` and, for each gateway, `pkcs8/<g>.key`, `x509/<g>.pem`
/// (CN and DNS name `<g>`, serverAuth) and `x509ca/ca.pem`.
pub fn issue(ca_cn: &str, gateways: &[String]) -> Result<Vec<CredentialFile>, rcgen::Error> {
    let now = SystemTime::now();
    let validity = |params: &mut CertificateParams| {
        params.not_before = (now - BACKDATE).into();
        params.not_after = (now + LIFETIME).into();
    };
    let mut ca = CertificateParams::default();
    ca.distinguished_name = named(ca_cn);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut ca);
    let ca_key = KeyPair::generate_for(&PKCS_ED25519)?;
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);

    let mut files = Vec::with_capacity(gateways.len() * 3);
    for g in gateways {
        let mut params = CertificateParams::new(vec![g.clone()])?;
        params.distinguished_name = named(g);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate_for(&PKCS_ED25519)?;
        let cert = params.signed_by(&key, &issuer)?;
        let dir = format!("nodes/{g}/swanctl");
        files.push(CredentialFile { path: format!("{dir}/pkcs8/{g}.key"), pem: key.serialize_pem() });
        files.push(CredentialFile { path: format!("{dir}/x509/{g}.pem"), pem: cert.pem() });
        files.push(CredentialFile { path: format!("{dir}/x509ca/ca.pem"), pem: ca_pem.clone() });
    }
    Ok(files)
}

fn named(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_gateway_gets_a_private_key_its_certificate_and_the_one_ca() {
        let gateways = ["gateway-a".to_string(), "gateway-b".to_string()];
        let files = issue("imgtool t CA", &gateways).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "nodes/gateway-a/swanctl/pkcs8/gateway-a.key",
                "nodes/gateway-a/swanctl/x509/gateway-a.pem",
                "nodes/gateway-a/swanctl/x509ca/ca.pem",
                "nodes/gateway-b/swanctl/pkcs8/gateway-b.key",
                "nodes/gateway-b/swanctl/x509/gateway-b.pem",
                "nodes/gateway-b/swanctl/x509ca/ca.pem",
            ]
        );
        assert!(files[0].pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8, as swanctl's pkcs8/ wants");
        assert!(files[1].pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(files[2].pem, files[5].pem, "one CA for the testbed");
        assert_ne!(files[0].pem, files[3].pem, "a key per gateway");
        assert_ne!(issue("imgtool t CA", &gateways).unwrap()[2].pem, files[2].pem, "a fresh CA per up");
    }
}
