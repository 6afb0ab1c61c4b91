"""Cluster configuration: storage, validation and immutable snapshots."""

from tlstrunk.config.cdr import CdrRecord, CdrWriter, export_cdrs_csv
from tlstrunk.config.enums import (
    AnswerMode,
    ConsiderTrafficSecure,
    DeviceSecurityMode,
    DiscardDigits,
    Distribution,
    IncomingTransport,
    OutgoingTransport,
    Transport,
)
from tlstrunk.config.errors import ConfigError, ConfigNotFoundError
from tlstrunk.config.snapshot import ConfigSnapshot, Listener, RouteTarget
from tlstrunk.config.store import ConfigStore
from tlstrunk.config.values import (
    CallingSearchSpaceConfig,
    Destination,
    DigestUserConfig,
    DirectoryNumberConfig,
    NodeConfig,
    PartitionConfig,
    PhoneConfig,
    RouteGroupConfig,
    RouteListConfig,
    RoutePatternConfig,
    SecurityProfileConfig,
    TrunkConfig,
    TrunkSpec,
)

__all__ = [
    "AnswerMode",
    "CallingSearchSpaceConfig",
    "CdrRecord",
    "CdrWriter",
    "ConfigError",
    "ConfigNotFoundError",
    "ConfigSnapshot",
    "ConfigStore",
    "ConsiderTrafficSecure",
    "Destination",
    "DeviceSecurityMode",
    "DigestUserConfig",
    "DirectoryNumberConfig",
    "DiscardDigits",
    "Distribution",
    "IncomingTransport",
    "Listener",
    "NodeConfig",
    "OutgoingTransport",
    "PartitionConfig",
    "PhoneConfig",
    "RouteGroupConfig",
    "RouteListConfig",
    "RoutePatternConfig",
    "RouteTarget",
    "SecurityProfileConfig",
    "Transport",
    "TrunkConfig",
    "TrunkSpec",
    "export_cdrs_csv",
]
