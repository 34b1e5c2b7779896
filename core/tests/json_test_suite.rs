#![allow(clippy::unwrap_used)]
//! nst/JSONTestSuite (`test_parsing`, commit 1ef36fa, copied into
//! core/tests/data/JSONTestSuite) against oxsio's JSON parser
//! (`Value::from_json`, the parser of every packet): every `y_` file is
//! accepted, every `n_` file refused. Bytes that are not UTF-8 are refused
//! before the parser, as the transports do (a text frame or polling body
//! must be UTF-8). The `i_` choices are printed and pinned below.

use std::collections::BTreeMap;

use oxsio::Value;

fn parse(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|t| Value::from_json(t).is_ok())
}

/// serde_json on the same bytes, for the comparison table.
fn parse_serde(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

/// The implementation-defined cases oxsio accepts (`JSON.parse` accepts
/// them too, except where noted); every other `i_` file is refused.
const I_ACCEPTED: &[&str] = &[
    // Numbers beyond f64 range: JSON.parse gives ±Infinity or 0.
    "i_number_double_huge_neg_exp.json",
    "i_number_huge_exp.json",
    "i_number_neg_int_huge_exp.json",
    "i_number_pos_double_huge_exp.json",
    "i_number_real_neg_overflow.json",
    "i_number_real_pos_overflow.json",
    "i_number_real_underflow.json",
    "i_number_too_big_neg_int.json",
    "i_number_too_big_pos_int.json",
    "i_number_very_big_negative_int.json",
    // Lone or reversed surrogate escapes: JSON.parse keeps them in the string.
    "i_object_key_lone_2nd_surrogate.json",
    "i_string_1st_surrogate_but_2nd_missing.json",
    "i_string_1st_valid_surrogate_2nd_invalid.json",
    "i_string_incomplete_surrogate_and_escape_valid.json",
    "i_string_incomplete_surrogate_pair.json",
    "i_string_incomplete_surrogates_escape_valid.json",
    "i_string_invalid_lonely_surrogate.json",
    "i_string_invalid_surrogate.json",
    "i_string_inverted_surrogates_U+1D11E.json",
    "i_string_lone_second_surrogate.json",
];
// Refused: bytes that are not UTF-8 or UTF-16/BOM-encoded texts (before the
// parser, as the transports do), and `i_structure_500_nested_arrays.json`
// (deeper than the 128 levels oxsio accepts; JSON.parse has no limit).

fn class_name(prefix: &str) -> &'static str {
    match prefix {
        "y_" => "y_ (must accept)",
        "n_" => "n_ (must refuse)",
        _ => "i_ (either)",
    }
}

#[test]
fn json_test_suite() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/JSONTestSuite/test_parsing");
    let mut tally: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut serde_tally: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut accepted_i = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let ok = parse(&bytes);
        let class = &name[..2];
        let t = tally.entry(class_name(class)).or_default();
        if ok {
            t.0 += 1;
        } else {
            t.1 += 1;
        }
        let s = serde_tally.entry(class_name(class)).or_default();
        if parse_serde(&bytes) {
            s.0 += 1;
        } else {
            s.1 += 1;
        }
        match class {
            "y_" if !ok => wrong.push(format!("refused {name}")),
            "n_" if ok => wrong.push(format!("accepted {name}")),
            "i_" if ok => accepted_i.push(name),
            _ => {}
        }
    }
    println!("{:<18} {:>22}  {:>22}", "", "oxsio", "serde_json 1");
    for (class, (acc, refd)) in &tally {
        let (sa, sr) = serde_tally.get(class).copied().unwrap_or_default();
        println!(
            "{class:<18} accepted {acc:>3} refused {refd:>3}  accepted {sa:>3} refused {sr:>3}"
        );
    }
    accepted_i.sort();
    println!("i_ accepted: {accepted_i:?}");
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(tally.values().map(|(a, r)| a + r).sum::<u32>(), 318);
    let mut pinned: Vec<&str> = I_ACCEPTED.to_vec();
    pinned.sort_unstable();
    assert_eq!(accepted_i, pinned, "the i_ choices changed");
}
