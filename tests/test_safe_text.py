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
