"""Search over uploads: every word must appear in the file name, the sender's name or
e-mail, the staff owner's user name or e-mail, or the portal's name, whatever its case
and accents (ADR 0011).

The upload's own fields are matched in `Upload.search_text`, normalized once when the
row is written (trigram-indexed on PostgreSQL). Owners and portals are few and can be
renamed, so their names are normalized when a search runs: the words are matched
against them in Python (two small queries, however many words) and become id lists
(`search_for`, once per page; `Search.q` is the filter).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q, Value
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan

from uploader.portals.models import Portal

SEARCH_TERMS_MAX = 8  # words of the search box that count; more only slows the query
# Joins the fields in search_text: no word of a search contains it (words are split
# on whitespace), so no match spans two fields.
FIELD_SEPARATOR = "\n"


def normalize(text: str) -> str:
    """Lower case without accents ("Zoë Ölund" → "zoe olund"): compatibility
    decomposition, combining marks dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@functools.lru_cache(maxsize=4096)
def _normalized_name(name: str) -> str:
    """`normalize`, remembered: every search matches its words against the same few
    hundred staff and portal names, whose normalizing was most of its Python time."""
    return normalize(name)


def search_text_of(*fields: str) -> str:
    return FIELD_SEPARATOR.join(normalize(field) for field in fields)


def search_terms(text: str) -> list[str]:
    """The normalized words that count (empty ones, such as a lone accent, dropped)."""
    terms = [normalize(word) for word in text.split()[:SEARCH_TERMS_MAX]]
    return [term for term in terms if term]


def _ids_matching(rows: Iterable[tuple[int, str]], term: str) -> tuple[int, ...]:
    return tuple(pk for pk, names in rows if term in names)


@dataclass(frozen=True)
class Search:
    """A search box's words, each with the staff users and portals whose names hold it."""

    terms: tuple[str, ...]
    owners: tuple[tuple[int, ...], ...]  # per word
    portals: tuple[tuple[int, ...], ...]  # per word

    def q(self, *, walked: bool = False) -> Q:
        """The filter; Q() when there are no words. `walked`: the same test of the text
        as `strpos(...) > 0`, which no index answers and the planner expects to be
        common, for a walk of a sort's index that checks each row it reads
        (dashboard.browse.selectors: a LIKE there had the planner build the word's whole
        trigram bitmap first, which grows with the table)."""
        query = Q()
        for term, owners, portals in zip(self.terms, self.owners, self.portals, strict=True):
            in_text = GreaterThan(StrIndex("search_text", Value(term)), 0) if walked else Q(search_text__contains=term)
            any_field = Q(in_text)
            if owners:
                any_field |= Q(owner_id__in=owners)
            if portals:
                any_field |= Q(portal_id__in=portals)
            query &= any_field
        return query


def search_for(text: str) -> Search:
    """The words of `text` that count, and whose names hold each: two small queries
    (every staff user, every portal), however many words; none without words."""
    terms = tuple(search_terms(text))
    if not terms:
        return Search((), (), ())
    # Each name normalized once, whatever the number of words.
    users = [
        (pk, f"{_normalized_name(username)}{FIELD_SEPARATOR}{_normalized_name(email)}")
        for pk, username, email in get_user_model().objects.values_list("pk", "username", "email")
    ]
    portals = [(pk, _normalized_name(name)) for pk, name in Portal.objects.values_list("pk", "name")]
    return Search(
        terms,
        tuple(_ids_matching(users, term) for term in terms),
        tuple(_ids_matching(portals, term) for term in terms),
    )
