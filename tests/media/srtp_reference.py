"""An independent RFC 3711 SRTP sender (AES-CM, HMAC-SHA1) built on ``cryptography``.

Only for cross-checking the libsrtp wrapper: it protects RTP packets with
rollover counter 0 and key derivation rate 0.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def aes_cm_keystream(key: bytes, iv: bytes, length: int) -> bytes:
    """AES counter mode keystream starting at the 128-bit counter ``iv``."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(bytes(length)) + encryptor.finalize()


def derive(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 section 4.3.1 key derivation at index 0 (key_id = label << 48)."""
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    return aes_cm_keystream(master_key, (x << 16).to_bytes(16, "big"), length)


def protect(packet: bytes, key_salt: bytes, tag_bytes: int) -> bytes:
    """Protect one RTP packet (12-octet header, no CSRC, ROC 0)."""
    master_key, master_salt = key_salt[:16], key_salt[16:]
    cipher_key = derive(master_key, master_salt, 0, 16)
    auth_key = derive(master_key, master_salt, 1, 20)
    session_salt = derive(master_key, master_salt, 2, 14)
    header, payload = packet[:12], packet[12:]
    sequence, ssrc = struct.unpack("!2xH4xI", header)
    iv = (int.from_bytes(session_salt, "big") << 16) ^ (ssrc << 64) ^ (sequence << 16)
    stream = aes_cm_keystream(cipher_key, iv.to_bytes(16, "big"), len(payload))
    encrypted = header + bytes(a ^ b for a, b in zip(payload, stream, strict=True))
    tag = hmac.new(auth_key, encrypted + bytes(4), hashlib.sha1).digest()[:tag_bytes]
    return encrypted + tag
