//! Real output of strongSwan 5.9.8 on site-to-site testbeds, for the tunnel
//! and auth judgements: `swanctl --list-sas --raw` and `--list-conns --raw`
//! as they were (SPIs and counters included), and each gateway's charon log
//! (`docker logs`) with only its IKE and connection lines kept.

/// gateway-a after `imgtool up` with certificates.
pub(super) const CERT_A_SAS: &str = "list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=61582821e517ff03 responder-spi=cce0df5d610de382 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=4 \
    rekey-time=13386 child-sas {a-s-1 {name=a-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=3612519d spi-out=299c25f4 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1124 packets-in=14 use-in=2 bytes-out=1010 packets-out=14 use-out=2 rekey-time=3341 \
    life-time=3956 install-time=4 local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
    list-sas reply {}\n";

pub(super) const CERT_S_SAS: &str = "list-sa event {b-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.27.27.10 remote-port=4500 remote-id=gateway-b \
    initiator-spi=9a32faba9a31e30a responder-spi=5fa51791063a3c39 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=4 \
    rekey-time=14130 child-sas {b-s-1 {name=b-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=63fab543 spi-out=a4e2190f encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=2 bytes-out=1124 packets-out=14 use-out=2 rekey-time=3242 \
    life-time=3956 install-time=4 local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.26.26.10 remote-port=4500 remote-id=gateway-a \
    initiator-spi=61582821e517ff03 responder-spi=cce0df5d610de382 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=4 \
    rekey-time=13790 child-sas {a-s-2 {name=a-s uniqueid=2 reqid=2 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=299c25f4 spi-out=3612519d encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=2 bytes-out=1124 packets-out=14 use-out=2 rekey-time=3308 \
    life-time=3956 install-time=4 local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-sas reply {}\n";

/// Their charon logs (`docker logs`), the IKE lines and connection loads kept.
pub(super) const CERT_A_LOG: &str = "00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.18.44-fc-v1045, x86_64)\n\
    08[CFG] added vici connection: a-s\n\
    08[IKE] initiating IKE_SA a-s[1] to 172.28.28.10\n\
    11[IKE] retransmit 1 of request with message ID 0\n\
    08[IKE] remote host is behind NAT\n\
    08[IKE] authentication of 'gateway-a' (myself) with ED25519 successful\n\
    08[IKE] sending end entity cert \"CN=gateway-a\"\n\
    08[IKE] establishing CHILD_SA a-s{1}\n\
    15[IKE] received end entity cert \"CN=gateway-s\"\n\
    15[IKE] authentication of 'gateway-s' with ED25519 successful\n\
    15[IKE] IKE_SA a-s[1] established between 172.26.26.10[gateway-a]...172.28.28.10[gateway-s]\n\
    15[IKE] scheduling rekeying in 13390s\n\
    15[IKE] maximum IKE_SA lifetime 14830s\n\
    15[IKE] CHILD_SA a-s{1} established with SPIs 3612519d_i 299c25f4_o and TS 10.1.0.0/16 === \
    10.3.0.0/16\n";

pub(super) const CERT_S_LOG: &str = "00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.18.44-fc-v1045, x86_64)\n\
    14[CFG] added vici connection: a-s\n\
    14[CFG] added vici connection: b-s\n\
    13[IKE] 172.26.26.10 is initiating an IKE_SA\n\
    10[IKE] 172.27.27.10 is initiating an IKE_SA\n\
    10[IKE] remote host is behind NAT\n\
    13[IKE] remote host is behind NAT\n\
    12[IKE] received end entity cert \"CN=gateway-b\"\n\
    12[CFG] selected peer config 'b-s'\n\
    12[IKE] authentication of 'gateway-b' with ED25519 successful\n\
    12[IKE] authentication of 'gateway-s' (myself) with ED25519 successful\n\
    12[IKE] sending end entity cert \"CN=gateway-s\"\n\
    12[IKE] IKE_SA b-s[2] established between 172.28.28.10[gateway-s]...172.27.27.10[gateway-b]\n\
    12[IKE] scheduling rekeying in 14134s\n\
    12[IKE] maximum IKE_SA lifetime 15574s\n\
    12[IKE] CHILD_SA b-s{1} established with SPIs 63fab543_i a4e2190f_o and TS 10.3.0.0/16 === \
    10.2.0.0/16\n\
    15[IKE] received end entity cert \"CN=gateway-a\"\n\
    15[CFG] selected peer config 'a-s'\n\
    15[IKE] authentication of 'gateway-a' with ED25519 successful\n\
    15[IKE] authentication of 'gateway-s' (myself) with ED25519 successful\n\
    15[IKE] sending end entity cert \"CN=gateway-s\"\n\
    15[IKE] IKE_SA a-s[1] established between 172.28.28.10[gateway-s]...172.26.26.10[gateway-a]\n\
    15[IKE] scheduling rekeying in 13794s\n\
    15[IKE] maximum IKE_SA lifetime 15234s\n\
    15[IKE] CHILD_SA a-s{2} established with SPIs 299c25f4_i 3612519d_o and TS 10.3.0.0/16 === \
    10.1.0.0/16\n";

/// A `--psk` testbed whose connections were then replaced by public-key ones
/// (`swanctl --load-conns`, auth = pubkey) on both gateways: the IKE SAs stay.
pub(super) const REPLACED_A_SAS: &str = "list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=7fa72ed4d00f836c responder-spi=393c6075a0df3e52 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=72 \
    rekey-time=14084 child-sas {a-s-1 {name=a-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=6ab062c4 spi-out=63042596 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=3372 packets-in=42 use-in=60 bytes-out=3030 packets-out=42 use-out=60 rekey-time=3256 \
    life-time=3888 install-time=72 local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
    list-sas reply {}\n";

pub(super) const REPLACED_S_SAS: &str = "list-sa event {a-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.26.26.10 remote-port=4500 remote-id=gateway-a \
    initiator-spi=7fa72ed4d00f836c responder-spi=393c6075a0df3e52 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=72 \
    rekey-time=13529 child-sas {a-s-2 {name=a-s uniqueid=2 reqid=2 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=63042596 spi-out=6ab062c4 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=3030 packets-in=42 use-in=60 bytes-out=3372 packets-out=42 use-out=60 rekey-time=3206 \
    life-time=3888 install-time=72 local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-sa event {b-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.27.27.10 remote-port=4500 remote-id=gateway-b \
    initiator-spi=3fb2ecfc03f5b0bc responder-spi=073f1c2fba1bd35e nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=72 \
    rekey-time=13227 child-sas {b-s-1 {name=b-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=08b1257f spi-out=778269e1 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=3030 packets-in=42 use-in=60 bytes-out=3372 packets-out=42 use-out=60 rekey-time=3190 \
    life-time=3888 install-time=72 local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-sas reply {}\n";

pub(super) const REPLACED_A_CONNS: &str = "list-conn event {a-s {local_addrs=[172.26.26.10] remote_addrs=[172.28.28.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO dpd_delay=5 local-1 {id=gateway-a class=public key \
    groups=[] cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-s class=public key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=start close_action=none local-ts=[10.1.0.0/16] \
    remote-ts=[10.3.0.0/16]}}}}\n\
    list-conns reply {}\n";

pub(super) const REPLACED_S_CONNS: &str = "list-conn event {a-s {local_addrs=[172.28.28.10] remote_addrs=[172.26.26.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=public key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-a class=public key groups=[] cert_policy=[] \
    certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 rekey_packets=0 \
    dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-conn event {b-s {local_addrs=[172.28.28.10] remote_addrs=[172.27.27.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=public key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-b class=public key groups=[] cert_policy=[] \
    certs=[] cacerts=[]} children {b-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 rekey_packets=0 \
    dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-conns reply {}\n";

pub(super) const REPLACED_A_LOG: &str = "00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.18.44-fc-v1045, x86_64)\n\
    14[CFG] added vici connection: a-s\n\
    15[IKE] initiating IKE_SA a-s[1] to 172.28.28.10\n\
    15[IKE] retransmit 1 of request with message ID 0\n\
    10[IKE] remote host is behind NAT\n\
    10[IKE] authentication of 'gateway-a' (myself) with pre-shared key\n\
    10[IKE] establishing CHILD_SA a-s{1}\n\
    13[IKE] authentication of 'gateway-s' with pre-shared key successful\n\
    13[IKE] IKE_SA a-s[1] established between 172.26.26.10[gateway-a]...172.28.28.10[gateway-s]\n\
    13[IKE] scheduling rekeying in 14156s\n\
    13[IKE] maximum IKE_SA lifetime 15596s\n\
    13[IKE] CHILD_SA a-s{1} established with SPIs 6ab062c4_i 63042596_o and TS 10.1.0.0/16 === \
    10.3.0.0/16\n\
    14[CFG] replaced vici connection: a-s\n";

pub(super) const REPLACED_S_LOG: &str = "00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.18.44-fc-v1045, x86_64)\n\
    14[CFG] added vici connection: a-s\n\
    15[CFG] added vici connection: b-s\n\
    02[IKE] 172.27.27.10 is initiating an IKE_SA\n\
    02[IKE] remote host is behind NAT\n\
    03[CFG] selected peer config 'b-s'\n\
    03[IKE] authentication of 'gateway-b' with pre-shared key successful\n\
    03[IKE] authentication of 'gateway-s' (myself) with pre-shared key\n\
    03[IKE] IKE_SA b-s[1] established between 172.28.28.10[gateway-s]...172.27.27.10[gateway-b]\n\
    03[IKE] scheduling rekeying in 13299s\n\
    03[IKE] maximum IKE_SA lifetime 14739s\n\
    03[IKE] CHILD_SA b-s{1} established with SPIs 08b1257f_i 778269e1_o and TS 10.3.0.0/16 === \
    10.2.0.0/16\n\
    01[IKE] 172.26.26.10 is initiating an IKE_SA\n\
    01[IKE] remote host is behind NAT\n\
    15[CFG] selected peer config 'a-s'\n\
    15[IKE] authentication of 'gateway-a' with pre-shared key successful\n\
    15[IKE] authentication of 'gateway-s' (myself) with pre-shared key\n\
    15[IKE] IKE_SA a-s[2] established between 172.28.28.10[gateway-s]...172.26.26.10[gateway-a]\n\
    15[IKE] scheduling rekeying in 13601s\n\
    15[IKE] maximum IKE_SA lifetime 15041s\n\
    15[IKE] CHILD_SA a-s{2} established with SPIs 63042596_i 6ab062c4_o and TS 10.3.0.0/16 === \
    10.1.0.0/16\n\
    14[CFG] replaced vici connection: a-s\n\
    03[CFG] replaced vici connection: b-s\n";

pub(super) const CERT_A_CONNS: &str = "list-conn event {a-s {local_addrs=[172.26.26.10] remote_addrs=[172.28.28.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO dpd_delay=5 local-1 {id=gateway-a class=public key \
    groups=[] cert_policy=[] certs=[CN=gateway-a] cacerts=[]} remote-1 {id=gateway-s class=public key \
    groups=[] cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 \
    rekey_bytes=0 rekey_packets=0 dpd_action=start close_action=none local-ts=[10.1.0.0/16] \
    remote-ts=[10.3.0.0/16]}}}}\n\
    list-conns reply {}\n";

pub(super) const CERT_S_CONNS: &str = "list-conn event {a-s {local_addrs=[172.28.28.10] remote_addrs=[172.26.26.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=public key groups=[] \
    cert_policy=[] certs=[CN=gateway-s] cacerts=[]} remote-1 {id=gateway-a class=public key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-conn event {b-s {local_addrs=[172.28.28.10] remote_addrs=[172.27.27.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=public key groups=[] \
    cert_policy=[] certs=[CN=gateway-s] cacerts=[]} remote-1 {id=gateway-b class=public key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {b-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-conns reply {}\n";

/// gateway-a after `imgtool up --psk`.
pub(super) const PSK_A_SAS: &str = "list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=33d823bca309cb3c responder-spi=30b0e737f94adcf2 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=3 \
    rekey-time=13614 child-sas {a-s-1 {name=a-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=c3ac8c66 spi-out=538fc061 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1124 packets-in=14 use-in=2 bytes-out=1010 packets-out=14 use-out=2 rekey-time=3501 \
    life-time=3957 install-time=3 local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
    list-sas reply {}\n";

pub(super) const PSK_A_CONNS: &str = "list-conn event {a-s {local_addrs=[172.26.26.10] remote_addrs=[172.28.28.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO dpd_delay=5 local-1 {id=gateway-a class=pre-shared \
    key groups=[] cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-s class=pre-shared key \
    groups=[] cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 \
    rekey_bytes=0 rekey_packets=0 dpd_action=start close_action=none local-ts=[10.1.0.0/16] \
    remote-ts=[10.3.0.0/16]}}}}\n\
    list-conns reply {}\n";

pub(super) const PSK_S_SAS: &str = "list-sa event {b-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.27.27.10 remote-port=4500 remote-id=gateway-b \
    initiator-spi=75467344077fba4c responder-spi=59cd1d2f038e855b nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=3 \
    rekey-time=13180 child-sas {b-s-1 {name=b-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=54fb0f17 spi-out=bdb4774b encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=2 bytes-out=1124 packets-out=14 use-out=2 rekey-time=3351 \
    life-time=3957 install-time=3 local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.26.26.10 remote-port=4500 remote-id=gateway-a \
    initiator-spi=33d823bca309cb3c responder-spi=30b0e737f94adcf2 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=3 \
    rekey-time=13433 child-sas {a-s-2 {name=a-s uniqueid=2 reqid=2 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=538fc061 spi-out=c3ac8c66 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=2 bytes-out=1124 packets-out=14 use-out=2 rekey-time=3263 \
    life-time=3957 install-time=3 local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-sas reply {}\n";

pub(super) const PSK_S_CONNS: &str = "list-conn event {a-s {local_addrs=[172.28.28.10] remote_addrs=[172.26.26.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-a class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-conn event {b-s {local_addrs=[172.28.28.10] remote_addrs=[172.27.27.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-b class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {b-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-conns reply {}\n";

/// gateway-a of the --psk testbed with a second connection, `decoy`, loaded:
/// public keys, a child named a-s too, but it established nothing.
pub(super) const DECOY_A_CONNS: &str = "list-conn event {a-s {local_addrs=[172.26.26.10] remote_addrs=[172.28.28.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO dpd_delay=5 local-1 {id=gateway-a class=pre-shared \
    key groups=[] cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-s class=pre-shared key \
    groups=[] cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 \
    rekey_bytes=0 rekey_packets=0 dpd_action=start close_action=none local-ts=[10.1.0.0/16] \
    remote-ts=[10.3.0.0/16]}}}}\n\
    list-conn event {decoy {local_addrs=[%any] remote_addrs=[172.28.28.10] version=IKEv1/2 reauth_time=0 \
    rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-a class=public key groups=[] cert_policy=[] \
    certs=[] cacerts=[]} remote-1 {id=gateway-s class=public key groups=[] cert_policy=[] certs=[] \
    cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 rekey_packets=0 dpd_action=none \
    close_action=none local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
    list-conns reply {}\n";

/// gateway-a after `swanctl --terminate --child a-s`: the IKE SA stays.
pub(super) const NOCHILD_A_SAS: &str = "list-sa event {a-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=16 \
    rekey-time=13376 child-sas {}}}\n\
    list-sas reply {}\n";

/// gateway-a initiating with local_ts = 10.1.0.0/24; gateway-s narrowed to it.
pub(super) const NARROW_A_SAS: &str = "list-sa event {a-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=24 \
    rekey-time=13368 child-sas {a-s-2 {name=a-s uniqueid=2 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=e96adf7c spi-out=b9788883 encr-alg=AES_GCM_16 encr-keysize=256 \
    dh-group=CURVE_25519 bytes-in=0 packets-in=0 bytes-out=0 packets-out=0 rekey-time=3408 \
    life-time=3960 install-time=0 local-ts=[10.1.0.0/24] remote-ts=[10.3.0.0/16]}}}}\n\
    list-sas reply {}\n";

pub(super) const NARROW_S_SAS: &str = "list-sa event {a-s {uniqueid=3 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.26.26.10 remote-port=4500 remote-id=gateway-a \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=24 \
    rekey-time=13122 child-sas {a-s-3 {name=a-s uniqueid=3 reqid=2 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=b9788883 spi-out=e96adf7c encr-alg=AES_GCM_16 encr-keysize=256 \
    dh-group=CURVE_25519 bytes-in=0 packets-in=0 bytes-out=0 packets-out=0 rekey-time=3302 \
    life-time=3960 install-time=0 local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/24]}}}}\n\
    list-sas reply {}\n";
