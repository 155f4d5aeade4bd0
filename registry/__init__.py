"""The registry: endpoints, their script versions, modules, artifacts and the change history.

```python
registry = await open_registry(settings.registry_url, settings.data_dir)
module_hash = await registry.put_module(wasm)
version = await registry.add_version(
    "team", "/feed", language="js", module_hash=module_hash, author="ana"
)
await registry.activate("team", "/feed", version.id, actor="ana")
```
"""

from registry._open import open_registry
from registry.base import Registry
from registry.errors import (
    Conflict,
    CorruptBlob,
    InvalidRegistryURL,
    NotFound,
    QuotaExceeded,
    RegistryError,
    RegistryUnavailable,
)
from registry.models import (
    LANGUAGES,
    Action,
    AuditEvent,
    Change,
    Config,
    Endpoint,
    Fingerprint,
    Language,
    ModuleHash,
    NamespaceSettings,
    Quotas,
    ServiceRecord,
    Version,
    VersionId,
    redacted_spec,
)
from registry.sqlite import SQLiteRegistry

__all__ = [
    "LANGUAGES",
    "Action",
    "AuditEvent",
    "Change",
    "Config",
    "Conflict",
    "CorruptBlob",
    "Endpoint",
    "Fingerprint",
    "InvalidRegistryURL",
    "Language",
    "ModuleHash",
    "NamespaceSettings",
    "NotFound",
    "QuotaExceeded",
    "Quotas",
    "Registry",
    "RegistryError",
    "RegistryUnavailable",
    "SQLiteRegistry",
    "ServiceRecord",
    "Version",
    "VersionId",
    "open_registry",
    "redacted_spec",
]
