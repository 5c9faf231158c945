from tracer.safe_text import for_spreadsheet, for_terminal, mixes_scripts


def test_escape_sequences_and_controls_never_reach_the_terminal():
    hostile = "\x1b[2J\x1b[1;1HstETH\x07\x00\r\nfake\u202e"
    shown = for_terminal(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x00" not in shown and "\r" not in shown
    assert "\u202e" not in shown  # right-to-left override, a classic disguise
    assert "stETH" in shown and "fake" in shown


def test_mixed_scripts_are_marked_and_plain_text_is_untouched():
    assert mixes_scripts("stЕTH") and "⚠mixed-script" in for_terminal("stЕTH")
    assert for_terminal("stETH") == "stETH" and for_terminal("ЕТН") == "ЕТН"  # all-Cyrillic: shown as is
    assert for_terminal("Velora (ParaSwap) router") == "Velora (ParaSwap) router"


def test_spreadsheet_formulas_are_neutralised():
    for cell in ("=HYPERLINK(\"http://x\")", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        assert for_spreadsheet(cell) == "'" + cell
    assert for_spreadsheet("0xabc") == "0xabc" and for_spreadsheet(5) == 5


def test_files_get_every_invisible_character_as_visible_text():
    from tracer.safe_text import for_file, for_file_values

    bidi = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    written = for_file("US" + bidi + "DT\r\n\t\x00\x1b[2J\x85\u2028\u2029\ufeff\u200b\ud800\ufffe")
    assert written.isprintable() and written.isascii()
    assert written.startswith("US\\u200e\\u200f\\u061c\\u202a") and "\\x1b[2J" in written  # kept, not stripped
    assert for_file(written) == written  # idempotent
    for plain in ("stЕTH", "Velora (ParaSwap) router", "Binance 14", "0xabc", "", "ЕТН 以太坊 🦊"):
        assert for_file(plain) == plain  # printable text (mixed scripts too) is never touched in a file
    assert for_file_values({"a": ["x\u202e", 1, None], "b\n": {"c": "\r"}}) == {
        "a": ["x\\u202e", 1, None], "b\\x0a": {"c": "\\x0d"}}
    assert for_terminal("\U000e0041") == "\\U000e0041"  # a tag character: a full-width escape, not "\\ue0041"
