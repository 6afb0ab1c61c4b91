"""Kamailio as a registrar and proxy for SIP phones, run in a subprocess for tests.

Kamailio is a third-party registrar, so phone harnesses tested against it
are known to work with a standard one. Kamailio listens on one
loopback address with UDP, TCP and TLS on the same port number. TLS demands
and verifies a client certificate issued by the test CA. REGISTER is checked
with digest authentication (``pv_www_authenticate``) against one fixed
password for every user, and INVITE with proxy authentication
(``pv_proxy_authenticate``), so no database is involved. Bindings live in
usrloc memory. INVITEs are record-routed and relayed to the callee's
registered contact over the connection the callee registered on.

``TestPki`` makes a CA with ``tlstrunk.pki`` and issues the registrar's and the
phones' certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from kamailio_peer import KamailioError, KamailioRunner

from tlstrunk.pki.ca import CertificateAuthority
from tlstrunk.pki.store import CertificateStore

#: Seconds a registration may last at most; phones asking for more get this value.
MAX_EXPIRES = 3600

KAMAILIO_CFG = """#!KAMAILIO
# Registrar and proxy for test phones, written by kamailio_registrar.py for Kamailio 5.6.

debug=2
log_stderror=yes
fork=yes
children=2
tcp_children=2
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no
enable_tls=yes
listen=udp:{address}:{port}
listen=tcp:{address}:{port}
listen=tls:{address}:{tls_port}
tcp_connection_lifetime={lifetime}
tcp_connect_timeout=5

loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "nathelper.so"

modparam("tls", "config", "{tls_config}")
modparam("tm", "fr_timer", 10000)
modparam("tm", "fr_inv_timer", 60000)
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", {max_expires})
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("rr", "enable_full_lr", 1)

request_route {{
    xlog("L_INFO", "registrar: $rm $ru from $si:$sp ($proto) user $fU Call-ID $ci\\n");
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    force_rport();

    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    t_check_trans();

    if (is_method("REGISTER")) {{
        route(REGISTRAR);
        exit;
    }}
    if (is_method("INVITE")) {{
        route(AUTH_CALLER);
        record_route();
        if (proto == TCP || proto == TLS) {{
            set_contact_alias();
        }}
        if (!lookup("location")) {{
            xlog("L_INFO", "registrar: $rU is not registered\\n");
            sl_send_reply("404", "Not Found");
            exit;
        }}
        route(RELAY);
    }}
    xlog("L_INFO", "registrar: unhandled $rm from $fU, answering 405\\n");
    sl_send_reply("405", "Method Not Allowed");
    exit;
}}

route[REGISTRAR] {{
    if (!pv_www_authenticate("$td", "{password}", "0")) {{
        xlog("L_INFO", "registrar: REGISTER $tU not authenticated, sending 401\\n");
        www_challenge("$td", "0");
        exit;
    }}
    if ($au != $tU) {{
        sl_send_reply("403", "Authentication User Differs From To User");
        exit;
    }}
    consume_credentials();
    fix_nated_register();
    if (!save("location")) {{
        sl_reply_error();
    }}
    xlog("L_INFO", "registrar: saved $tU contact $ct expires $hdr(Expires)\\n");
    exit;
}}

route[AUTH_CALLER] {{
    if (!pv_proxy_authenticate("$fd", "{password}", "0")) {{
        proxy_challenge("$fd", "0");
        exit;
    }}
    if ($au != $fU) {{
        sl_send_reply("403", "Authentication User Differs From From User");
        exit;
    }}
    consume_credentials();
}}

route[WITHINDLG] {{
    handle_ruri_alias();
    if (loose_route()) {{
        route(RELAY);
        exit;
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    sl_send_reply("404", "Not Here");
}}

route[RELAY] {{
    if (is_method("INVITE")) {{
        t_on_reply("REPLY");
    }}
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

onreply_route[REPLY] {{
    xlog("L_INFO", "registrar: reply $rs $rr for $rm from $si:$sp\\n");
    if (proto == TCP || proto == TLS) {{
        set_contact_alias();
    }}
}}
"""

TLS_CFG = """# Kamailio tls module profiles written by kamailio_registrar.py.
[server:default]
method = TLSv1.2+
verify_certificate = {verify}
require_certificate = {verify}
verify_depth = 3
certificate = {certificate}
private_key = {private_key}
ca_list = {ca_list}

[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
verify_depth = 3
certificate = {certificate}
private_key = {private_key}
ca_list = {ca_list}
"""


#: Kamailio could not be configured or did not start.
RegistrarError = KamailioError


@dataclass(frozen=True)
class Identity:
    """Certificate files of one party, issued by the test CA.

    ``combined`` contains the certificate chain followed by the private key, the
    form that baresip's ``sip_certificate`` takes.
    """

    name: str
    certificate: Path
    private_key: Path
    combined: Path
    ca: Path


class TestPki:
    """A root CA made with tlstrunk.pki that issues identities into one directory."""

    __test__ = False  # a helper, not a pytest class

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = CertificateAuthority.create(directory / "ca", common_name="Phone Lab Root CA")
        self.ca_file = directory / "ca-root.pem"
        self.ca_file.write_bytes(self.ca.export_root("pem"))

    def issue(self, name: str, addresses: tuple[str, ...] = ()) -> Identity:
        """Issue a certificate with CN and SAN DNS ``name`` and SAN IP ``addresses``."""
        store_dir = self.directory / name
        store = CertificateStore.open(store_dir)
        store.upload_trust("CallManager-trust", self.ca.export_root("pem"))
        csr = store.generate_csr(
            "CallManager", common_name=name, dns_names=[name], ip_addresses=list(addresses)
        )
        issued = self.ca.issue(self.ca.submit(csr.pem))
        store.upload_certificate("CallManager", issued.public_bytes(serialization.Encoding.PEM))
        certificate, private_key = store.identity_files("CallManager")
        combined = store_dir / "cert-and-key.pem"
        combined.write_bytes(certificate.read_bytes() + private_key.read_bytes())
        return Identity(name, certificate, private_key, combined, self.ca_file)


@dataclass(frozen=True)
class RegistrarSettings:
    """One Kamailio registrar: its address and ports, TLS identity and the shared password.

    UDP and TCP listen on ``port``, TLS on ``tls_port``. ``verify_clients``
    False lets TLS clients connect without a certificate.
    """

    address: str
    port: int
    tls_port: int
    identity: Identity
    password: str
    verify_clients: bool = True

    def uri(self, transport: str) -> str:
        """Return the SIP URI of the registrar for ``transport`` (udp, tcp or tls)."""
        return f"sip:{self.address}:{self.port_for(transport)};transport={transport}"

    def port_for(self, transport: str) -> int:
        """Return the port that listens for ``transport`` (udp, tcp or tls)."""
        return self.tls_port if transport == "tls" else self.port


def write_config(settings: RegistrarSettings, directory: Path) -> Path:
    """Write ``kamailio.cfg`` and ``tls.cfg`` into ``directory``; return ``kamailio.cfg``."""
    if '"' in settings.password or "\\" in settings.password:
        raise RegistrarError(
            f"The registrar password {settings.password!r} contains a quote or backslash, "
            "which the Kamailio script cannot hold; choose a password without them."
        )
    directory.mkdir(parents=True, exist_ok=True)
    tls_config = directory / "tls.cfg"
    tls_config.write_text(
        TLS_CFG.format(
            verify="yes" if settings.verify_clients else "no",
            certificate=settings.identity.certificate,
            private_key=settings.identity.private_key,
            ca_list=settings.identity.ca,
        )
    )
    config = directory / "kamailio.cfg"
    config.write_text(
        KAMAILIO_CFG.format(
            address=settings.address,
            port=settings.port,
            tls_port=settings.tls_port,
            lifetime=MAX_EXPIRES + 60,
            tls_config=tls_config,
            max_expires=MAX_EXPIRES,
            password=settings.password,
        )
    )
    return config


class KamailioRegistrar(KamailioRunner[RegistrarSettings]):
    """Kamailio as a registrar and proxy; entering waits until its TLS port accepts connections."""

    def _write_config(self) -> Path:
        return write_config(self.settings, self.directory)

    def _listen_address(self) -> tuple[str, int]:
        return self.settings.address, self.settings.tls_port
