"""Loaders for text, Markdown, HTML and PDF, and the registry that picks them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.errors import LoaderError
from ponder.ingest import SUPPORTED_EXTENSIONS, load_path, load_path_report
from ponder.types import LoadedDocument

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"


def texts(doc: LoadedDocument, kind: str | None = None) -> list[str]:
    return [doc.text[b.start : b.end] for b in doc.blocks if kind is None or b.kind == kind]


def assert_blocks_exact(doc: LoadedDocument) -> None:
    """Blocks are in order, inside the text, and never start or end with whitespace."""
    prev = 0
    for b in doc.blocks:
        assert prev <= b.start < b.end <= len(doc.text)
        piece = doc.text[b.start : b.end]
        assert piece == piece.strip()
        prev = b.end


# -- plain text -------------------------------------------------------------------------------


def test_text_paragraphs_and_absolute_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "a.txt").write_text("First line\nstill first.\n\n\n  Second.  \n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    [doc] = load_path(Path("a.txt"))
    assert doc.source == str((tmp_path / "a.txt").resolve())
    assert texts(doc) == ["First line\nstill first.", "Second."]
    assert doc.metadata["file_type"] == "text"
    assert_blocks_exact(doc)


def test_text_encodings(tmp_path: Path):
    (tmp_path / "bom.txt").write_bytes("\ufeffcafé\r\n\r\nthé".encode())
    (tmp_path / "latin.txt").write_bytes("Crème brûlée, naïve café.".encode("cp1252"))
    (tmp_path / "u16.txt").write_bytes("hello wörld".encode("utf-16"))
    assert texts(load_path(tmp_path / "bom.txt")[0]) == ["café", "thé"]
    assert load_path(tmp_path / "latin.txt")[0].text == "Crème brûlée, naïve café."
    assert load_path(tmp_path / "u16.txt")[0].text == "hello wörld"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\t\n ", "empty"),
        ("nul.txt", b"text\x00with\x00nul", "binary"),
        ("noise.txt", bytes(range(128, 256)) * 20 + bytes(range(0, 32)) * 5, "binary"),
        ("controls.md", b"\x01\x02\x03\x04\x05\x06\x07\x08abc" * 50, "binary"),
    ],
)
def test_bad_text_files_raise_with_a_reason(tmp_path: Path, name: str, data: bytes, reason: str):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(LoaderError) as info:
        load_path(tmp_path / name)
    assert reason in info.value.reason
    assert info.value.source == str((tmp_path / name).resolve())


def test_missing_unsupported_and_folder(tmp_path: Path):
    with pytest.raises(LoaderError, match="no such file"):
        load_path(tmp_path / "nope.txt")
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(LoaderError, match=r"unsupported file type '\.docx'.*\.md"):
        load_path(tmp_path / "x.docx")
    with pytest.raises(LoaderError, match="folder"):
        load_path(tmp_path)


def test_supported_extensions():
    assert {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".csv", ".jsonl"} == set(
        SUPPORTED_EXTENSIONS
    )


def test_extension_is_case_insensitive(tmp_path: Path):
    (tmp_path / "README.MD").write_text("# Hi\n\nThere.", encoding="utf-8")
    [doc] = load_path(tmp_path / "README.MD")
    assert doc.metadata["file_type"] == "markdown"


# -- markdown ---------------------------------------------------------------------------------


def test_markdown_headings_front_matter_and_code():
    [doc] = load_path(FIXTURES / "guide.md")
    headings = [(doc.text[b.start : b.end], b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        ("Brewing tea", 1),
        ("Green tea", 2),
        ("Black tea", 2),
        ("Storage", 2),  # setext
    ]
    assert doc.metadata["title"] == "Brewing guide"
    assert doc.metadata["author"] == "Ada"
    assert doc.metadata["tags"] == ["tea", "howto"]
    assert doc.metadata["year"] == 2024
    assert "---" not in doc.text and "title:" not in doc.text
    code = [t for t in texts(doc, "text") if t.startswith("```")]
    assert len(code) == 1 and "def steep" in code[0] and 'print("steeping"' in code[0]
    assert "\n\n" in code[0]  # the blank line inside the fence did not split it
    assert "See the chart for details." in doc.text and "https://" not in doc.text
    assert_blocks_exact(doc)


def test_markdown_edge_cases(tmp_path: Path):
    src = (
        "Intro para\n===\n\n- item one\n---\n\n#not a heading\n\n## Closed ##\n\n"
        "<!-- hidden -->Shown `[x](y)` kept\n\n~~~\nunclosed fence\n\n# inside\n"
    )
    (tmp_path / "e.md").write_text(src, encoding="utf-8")
    [doc] = load_path(tmp_path / "e.md")
    heads = texts(doc, "heading")
    assert heads == ["Intro para", "Closed"]
    body = texts(doc, "text")
    assert "- item one" in body and "#not a heading" in body
    assert "Shown `[x](y)` kept" in body
    assert body[-1].startswith("~~~") and "# inside" in body[-1]
    assert doc.metadata["title"] == "Intro para"


def test_markdown_only_front_matter_is_an_error(tmp_path: Path):
    (tmp_path / "f.md").write_text("---\ntitle: x\n---\n\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="no text"):
        load_path(tmp_path / "f.md")


# -- html -------------------------------------------------------------------------------------


def test_html_main_text_only():
    [doc] = load_path(FIXTURES / "page.html")
    for noise in ("SCRIPT", "NAV-TEXT", "HEADER-TEXT", "FOOTER-TEXT", "FORM-TEXT", "ASIDE-TEXT"):
        assert noise not in doc.text, noise
    assert "HIDDEN-TEXT" not in doc.text and "color: red" not in doc.text and "<" not in doc.text
    assert [(doc.text[b.start : b.end], b.level) for b in doc.blocks if b.kind == "heading"] == [
        ("Tea & Health", 1),
        ("Caffeine", 2),
    ]
    body = texts(doc, "text")
    assert "Tea contains antioxidants — called catechins." in body
    assert "A cup has about 40 mg of caffeine." in body
    assert "Green: less" in body and "Black: more" in body
    assert "Tea | mg" in body and "Green | 30" in body
    assert "line one\n    indented line" in body
    assert "Drink responsibly." in body
    assert doc.metadata["title"] == "Tea & Health"
    assert doc.metadata["description"] == "Why tea is good for you"
    assert doc.metadata["language"] == "en"
    assert_blocks_exact(doc)


def test_html_without_main_keeps_body_but_drops_furniture(tmp_path: Path):
    html = (
        "<html><head><title>T</title><body><header>TOP</header><div role=navigation>MENU</div>"
        "<div><p>One<br>two</p><h3>Sub</h3><p>Three &lt;b&gt;</p></div><footer>END</footer>"
    )
    (tmp_path / "p.htm").write_text(html, encoding="utf-8")
    [doc] = load_path(tmp_path / "p.htm")
    assert texts(doc) == ["One\ntwo", "Sub", "Three <b>"]
    assert doc.blocks[1].kind == "heading" and doc.blocks[1].level == 3


def test_html_without_text_is_an_error(tmp_path: Path):
    (tmp_path / "s.html").write_text("<script>x()</script><nav>menu</nav>", encoding="utf-8")
    with pytest.raises(LoaderError, match="no readable text"):
        load_path(tmp_path / "s.html")


def test_html_declared_charset(tmp_path: Path):
    page = '<meta charset="windows-1251"><p>Привет мир</p>'
    (tmp_path / "ru.html").write_bytes(page.encode("cp1251"))
    [doc] = load_path(tmp_path / "ru.html")
    assert doc.text == "Привет мир"


# -- pdf --------------------------------------------------------------------------------------


def _pdf(path: Path, pages: list[str], *, user_password: str | None = None, title: str = ""):
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.rect(20, 20, 50, 50)  # a page with a drawing and no text
    pdf.output(str(path))


def test_pdf_pages_and_metadata(tmp_path: Path):
    _pdf(
        tmp_path / "d.pdf",
        ["Page one text.\n\nSecond paragraph on page one.", "Text of page two."],
        title="My Report",
    )
    [doc] = load_path(tmp_path / "d.pdf")
    assert doc.blocks[0].page == 1 and doc.blocks[-1].page == 2
    assert all(b.page in (1, 2) for b in doc.blocks)
    assert "Page one text." in doc.text and "Text of page two." in doc.text
    assert doc.metadata["page_count"] == 2
    assert doc.metadata["title"] == "My Report"
    assert doc.metadata["file_type"] == "pdf"
    assert_blocks_exact(doc)


def test_pdf_without_text_layer_says_ocr(tmp_path: Path):
    _pdf(tmp_path / "scan.pdf", ["", ""])
    with pytest.raises(LoaderError) as info:
        load_path(tmp_path / "scan.pdf")
    assert "no text layer" in info.value.reason and "OCR" in info.value.reason


def test_pdf_encrypted(tmp_path: Path):
    _pdf(tmp_path / "locked.pdf", ["Secret."], user_password="pw")
    with pytest.raises(LoaderError, match="encrypted with a password"):
        load_path(tmp_path / "locked.pdf")
    # an owner password alone (empty user password) does not stop reading
    _pdf(tmp_path / "owner.pdf", ["Readable."], user_password="")
    assert "Readable." in load_path(tmp_path / "owner.pdf")[0].text


def test_pdf_corrupt_and_not_pdf(tmp_path: Path):
    _pdf(tmp_path / "ok.pdf", ["Some text here."])
    data = (tmp_path / "ok.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 3])
    with pytest.raises(LoaderError, match="corrupt or truncated"):
        load_path(tmp_path / "cut.pdf")
    (tmp_path / "fake.pdf").write_text("just text", encoding="utf-8")
    with pytest.raises(LoaderError, match="not a PDF"):
        load_path(tmp_path / "fake.pdf")
    (tmp_path / "garbage.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    with pytest.raises(LoaderError, match="corrupt"):
        load_path(tmp_path / "garbage.pdf")


def test_load_path_report_for_single_documents_has_no_skips():
    docs, skipped = load_path_report(FIXTURES / "guide.md", text_field="ignored")
    assert len(docs) == 1 and skipped == []
