//! The toneless pinyin of a nickname, so people can be found by typing
//! Latin letters: each Han character's most common reading, whole syllables
//! run together, a space, then their initials (`张三` → `zhangsan zs`).
//! Other characters are left out; a nickname without Han characters has none.

use pinyin::ToPinyin;

pub fn of(nickname: &str) -> String {
    let (mut whole, mut initials) = (String::new(), String::new());
    for syllable in nickname.to_pinyin().flatten() {
        // ü as keyboards type it.
        whole.extend(syllable.plain().chars().map(|c| if c == 'ü' { 'v' } else { c }));
        initials.push_str(syllable.first_letter());
    }
    if whole.is_empty() {
        return whole;
    }
    whole.push(' ');
    whole.push_str(&initials);
    whole
}

#[cfg(test)]
mod tests {
    use super::of;

    #[test]
    fn han_characters_become_syllables_then_initials() {
        assert_eq!(of("张三"), "zhangsan zs");
        assert_eq!(of("李小龙"), "lixiaolong lxl");
        assert_eq!(of("绿"), "lv l", "ü is written v, as people type it");
    }

    #[test]
    fn other_characters_are_left_out() {
        assert_eq!(of("Ada 王"), "wang w");
        assert_eq!(of("Ada"), "");
        assert_eq!(of("🙂 ありがとう"), "");
        assert_eq!(of(""), "");
    }
}
