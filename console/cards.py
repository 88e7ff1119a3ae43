"""Printing log-in cards: what goes on each card, and its QR code as inline SVG.

The QR code holds the card page's absolute address with the code after the "#": a phone's
camera opens it, and the page's script sends the code (the part after "#" never reaches
the server's logs or another site's Referer). segno draws it here, on the server, so the
page needs no script and prints the same in every browser.
"""

from dataclasses import dataclass

import segno
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts import cards

# Per printed sheet: 2 across and 4 down fit an A4 or a US Letter page.
CARDS_PER_SHEET = 8


@dataclass(frozen=True)
class PrintedCard:
    name: str
    username: str
    classroom: str
    code: str  # grouped, as printed
    qr: SafeString
    address: str  # the card page, to type without a camera


def qr_svg(text: str, *, title: str) -> SafeString:
    """`text` as a QR code (error correction M: a card may get creased), inline SVG that
    scales to its box, named by `title` for screen readers."""
    qr = segno.make(text, error="m", boost_error=False)
    svg = qr.svg_inline(scale=1, border=4, omitsize=True, svgclass="card-qr", lineclass=None)
    # An image with a name (segno writes no role), so a screen reader does not spell out
    # the drawing's path.
    named = f'<svg role="img" aria-label="{escape(title)}" '
    return mark_safe(svg.replace("<svg ", named, 1))  # noqa: S308 - segno's SVG; title escaped


def printed_cards(request, classroom, issued) -> list[PrintedCard]:
    """The cards to print for `issued`, [(student, code)] from accounts.services.issue_cards."""
    page = request.build_absolute_uri(reverse("login_card"))
    address = page.split("://", 1)[-1]
    result = []
    for student, code in issued:
        name = student.get_full_name() or student.get_username()
        result.append(
            PrintedCard(
                name=name,
                username=student.get_username(),
                classroom=classroom.name,
                code=cards.grouped(code),
                qr=qr_svg(f"{page}#{code}", title=f"QR code that logs {name} in"),
                address=address,
            )
        )
    return result


def sheets(items: list, size: int = CARDS_PER_SHEET) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
