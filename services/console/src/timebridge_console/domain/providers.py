"""The installed providers as mapping's ``GET .../providers`` lists them: the console's only
source of provider names, titles and what each allows (it names none itself).

Pages ask it for a provider's title, the trackers connected with a pasted API key, and the
accounting tools; a provider the list does not know is shown by its name, title-cased.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def initials(title: str) -> str:
    """A tool's badge: the first two capitals of its title ("Books Online" -> "BO"), or its
    first two letters when it has fewer than one capital."""
    capitals = [c for c in title if c.isupper()][:2]
    return "".join(capitals) if capitals else title[:2].upper()


@dataclass(frozen=True)
class Catalog:
    providers: tuple[Mapping[str, Any], ...] = ()
    unavailable: str | None = None
    """Why the list could not be read (pages say so instead of offering nothing silently)."""

    @classmethod
    def of(cls, listed: Iterable[Mapping[str, Any]]) -> "Catalog":
        return cls(tuple(listed))

    def _named(self, name: str) -> Mapping[str, Any] | None:
        return next((p for p in self.providers if p.get("name") == name), None)

    def label(self, name: str) -> str:
        """How people call the provider (its title)."""
        found = self._named(name)
        if found is not None and found.get("title"):
            return str(found["title"])
        return name.replace("_", " ").title()

    def _of_kind(self, kind: str) -> dict[str, str]:
        return {
            str(p["name"]): self.label(str(p["name"]))
            for p in self.providers
            if p.get("kind") == kind
        }

    def key_trackers(self) -> dict[str, str]:
        """Trackers connected with a pasted API key or personal token, by name, with their
        titles."""
        return {
            name: title
            for name, title in self._of_kind("tracker").items()
            if (self._named(name) or {}).get("auth") in ("api_key", "token")
        }

    def oauth_trackers(self) -> dict[str, str]:
        """Trackers connected by their provider's consent page (OAuth), with their titles."""
        return {
            name: title
            for name, title in self._of_kind("tracker").items()
            if (self._named(name) or {}).get("auth") == "oauth2"
        }

    def connectable_trackers(self) -> dict[str, str]:
        """Every tracker an admin can connect from the console: by key or by consent."""
        return {**self.key_trackers(), **self.oauth_trackers()}

    def fields(self, name: str) -> dict[str, str]:
        """What else an admin enters to connect the provider (an account id): key -> label."""
        found = (self._named(name) or {}).get("connection_fields") or {}
        return {str(k): str(v) for k, v in found.items()}

    def entered(self, name: str, form: Mapping[str, str]) -> dict[str, str]:
        """The provider's connection fields as a submitted form gives them (``field_<key>``)."""
        return {k: form.get(f"field_{k}", "").strip() for k in self.fields(name)}

    def accounting(self) -> dict[str, str]:
        """The accounting tools, by name, with their titles."""
        return self._of_kind("accounting")

    def directions(self, name: str) -> dict[str, str | None]:
        """The directions the tracker's integrations may not take, with the reason."""
        found = self._named(name) or {}
        return {
            str(d["direction"]): d.get("why_not")
            for d in found.get("directions", [])
            if not d.get("allowed", True)
        }
