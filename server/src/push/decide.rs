//! Whether a stored message is pushed to one member: plain data in, a
//! verdict out, no I/O. `mod.rs` gathers the facts (settings, statuses,
//! presence) and acts on the verdict (after which it checks blocks).

use wire::{
    model::{ConversationId, ConversationKind, Message, MessageKind, Millis, Status, UserId, MENTION_ALL},
    push::{NotifyLevel, NotifySettings},
};

/// What the conversation is, for the default level.
#[derive(Clone, Copy, Debug)]
pub struct Conversation {
    pub kind: ConversationKind,
    pub members: usize,
    /// `--notify-group-size`: larger groups default to mentions only.
    pub group_size: usize,
}

/// What is known of one member when the message is stored.
#[derive(Clone, Copy, Debug)]
pub struct Member<'a> {
    pub user: &'a UserId,
    pub settings: &'a NotifySettings,
    /// The status the member chose for this conversation.
    pub status: Status,
    /// A device of theirs, in use, shows this conversation: the page tells them.
    pub viewing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Push { mention: bool },
    Skip(Why),
}

/// Why a member is not pushed (a metric's label, and the tests').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A change (edit, reaction, …) or a call record: nothing new to tell.
    NotNews,
    Sender,
    Viewing,
    Muted,
    /// The level (chosen, default, or lowered by a busy status) leaves it out.
    Level,
    Quiet,
}

/// Whether `member` is pushed for `message` at `now`.
pub fn decide(message: &Message, conversation: Conversation, member: Member<'_>, now: Millis) -> Verdict {
    use MessageKind::*;
    if !matches!(message.kind, Text | Image | Voice | Video | File) {
        return Verdict::Skip(Why::NotNews);
    }
    if &message.sender_id == member.user {
        return Verdict::Skip(Why::Sender);
    }
    if member.viewing {
        return Verdict::Skip(Why::Viewing);
    }
    let choice = member.settings.conversation(&message.conversation_id);
    if choice.and_then(|c| c.muted_until_ms).is_some_and(|until| until > now) {
        return Verdict::Skip(Why::Muted);
    }
    let default = NotifyLevel::default_for(conversation.kind, conversation.members, conversation.group_size);
    let level = match (choice.and_then(|c| c.level).unwrap_or(default), member.status) {
        (NotifyLevel::All, Status::Busy) => NotifyLevel::Mentions,
        (level, _) => level,
    };
    let mention = message.mentions.iter().any(|u| u == member.user || u.0 == MENTION_ALL);
    match level {
        NotifyLevel::Nothing => return Verdict::Skip(Why::Level),
        NotifyLevel::Mentions if !mention => return Verdict::Skip(Why::Level),
        _ => {}
    }
    if member.settings.quiet_hours.is_some_and(|q| q.contains(now)) {
        return Verdict::Skip(Why::Quiet);
    }
    Verdict::Push { mention }
}

/// Whether a call in `conversation` is pushed to a callee with `settings`
/// and `status` at `now`: not while the conversation is muted or set to
/// nothing, not in quiet hours, not while busy (a call is no mention).
pub fn call_rings(settings: &NotifySettings, status: Status, conversation: &ConversationId, now: Millis) -> bool {
    let choice = settings.conversation(conversation);
    let muted = choice.and_then(|c| c.muted_until_ms).is_some_and(|until| until > now);
    let nothing = choice.and_then(|c| c.level) == Some(NotifyLevel::Nothing);
    let quiet = settings.quiet_hours.is_some_and(|q| q.contains(now));
    !(muted || nothing || quiet || status == Status::Busy)
}

#[cfg(test)]
mod tests {
    use wire::{
        model::MessageId,
        push::{ConversationNotify, QuietHours, MUTED_FOREVER},
    };

    use super::*;

    const NOON: Millis = 12 * 3_600_000;

    fn message(kind: MessageKind, mentions: &[&str]) -> Message {
        Message {
            id: MessageId("m".into()),
            conversation_id: ConversationId("g".into()),
            seq: 1,
            shown: 1,
            sender_id: UserId("ann".into()),
            client_id: "c".into(),
            kind,
            content: "hi".into(),
            created_ms: NOON,
            attachment: None,
            call: None,
            target: None,
            reply_to: None,
            mentions: mentions.iter().map(|u| UserId((*u).into())).collect(),
        }
    }

    fn group(members: usize) -> Conversation {
        Conversation { kind: ConversationKind::Group, members, group_size: 50 }
    }

    fn bob<'a>(settings: &'a NotifySettings) -> Member<'a> {
        static BOB: std::sync::LazyLock<UserId> = std::sync::LazyLock::new(|| UserId("bob".into()));
        Member { user: &BOB, settings, status: Status::Online, viewing: false }
    }

    fn choose(level: Option<NotifyLevel>, muted_until_ms: Option<Millis>) -> NotifySettings {
        let entry = ConversationNotify { conversation_id: ConversationId("g".into()), level, muted_until_ms };
        NotifySettings { conversations: vec![entry], ..NotifySettings::default() }
    }

    #[test]
    fn an_offline_member_of_a_small_group_is_pushed_every_message() {
        let none = NotifySettings::default();
        assert_eq!(decide(&message(MessageKind::Text, &[]), group(3), bob(&none), NOON), Verdict::Push { mention: false });
        assert_eq!(decide(&message(MessageKind::Image, &["bob"]), group(3), bob(&none), NOON), Verdict::Push { mention: true });
    }

    #[test]
    fn changes_calls_the_sender_and_those_viewing_are_not() {
        let none = NotifySettings::default();
        let skip = |m: &Message, member| decide(m, group(3), member, NOON);
        assert_eq!(skip(&message(MessageKind::React, &[]), bob(&none)), Verdict::Skip(Why::NotNews));
        assert_eq!(skip(&message(MessageKind::VoiceCall, &[]), bob(&none)), Verdict::Skip(Why::NotNews));
        let ann = UserId("ann".into());
        assert_eq!(skip(&message(MessageKind::Text, &[]), Member { user: &ann, ..bob(&none) }), Verdict::Skip(Why::Sender));
        let viewing = Member { viewing: true, ..bob(&none) };
        assert_eq!(skip(&message(MessageKind::Text, &[]), viewing), Verdict::Skip(Why::Viewing));
    }

    #[test]
    fn large_groups_and_busy_members_get_mentions_only() {
        let none = NotifySettings::default();
        let plain = message(MessageKind::Text, &[]);
        assert_eq!(decide(&plain, group(51), bob(&none), NOON), Verdict::Skip(Why::Level));
        assert_eq!(decide(&message(MessageKind::Text, &["all"]), group(51), bob(&none), NOON), Verdict::Push { mention: true });
        let private = Conversation { kind: ConversationKind::Private, members: 2, group_size: 1 };
        assert_eq!(decide(&plain, private, bob(&none), NOON), Verdict::Push { mention: false });
        let busy = Member { status: Status::Busy, ..bob(&none) };
        assert_eq!(decide(&plain, group(3), busy, NOON), Verdict::Skip(Why::Level));
        assert_eq!(decide(&message(MessageKind::Text, &["bob"]), group(3), busy, NOON), Verdict::Push { mention: true });
        let all = choose(Some(NotifyLevel::All), None);
        assert_eq!(decide(&plain, group(51), bob(&all), NOON), Verdict::Push { mention: false }, "a choice beats the default");
    }

    #[test]
    fn nothing_and_mutes_silence_even_mentions_until_they_end() {
        let mentioned = message(MessageKind::Text, &["bob"]);
        let nothing = choose(Some(NotifyLevel::Nothing), None);
        assert_eq!(decide(&mentioned, group(3), bob(&nothing), NOON), Verdict::Skip(Why::Level));
        let for_an_hour = choose(None, Some(NOON + 3_600_000));
        assert_eq!(decide(&mentioned, group(3), bob(&for_an_hour), NOON), Verdict::Skip(Why::Muted));
        assert_eq!(decide(&mentioned, group(3), bob(&for_an_hour), NOON + 3_600_000), Verdict::Push { mention: true });
        let forever = choose(None, Some(MUTED_FOREVER));
        assert_eq!(decide(&mentioned, group(3), bob(&forever), i64::MAX - 1), Verdict::Skip(Why::Muted));
    }

    #[test]
    fn quiet_hours_hold_everything_back() {
        let lunch = QuietHours { start_minute: 11 * 60, end_minute: 13 * 60, utc_offset_minutes: 0 };
        let quiet = NotifySettings { quiet_hours: Some(lunch), ..NotifySettings::default() };
        let mentioned = message(MessageKind::Text, &["bob"]);
        assert_eq!(decide(&mentioned, group(3), bob(&quiet), NOON), Verdict::Skip(Why::Quiet));
        assert_eq!(decide(&mentioned, group(3), bob(&quiet), NOON + 2 * 3_600_000), Verdict::Push { mention: true });
    }

    #[test]
    fn calls_ring_unless_muted_quiet_or_busy() {
        let none = NotifySettings::default();
        let g = ConversationId("g".into());
        assert!(call_rings(&none, Status::Online, &g, NOON));
        assert!(!call_rings(&none, Status::Busy, &g, NOON));
        assert!(!call_rings(&choose(None, Some(MUTED_FOREVER)), Status::Online, &g, NOON));
        assert!(!call_rings(&choose(Some(NotifyLevel::Nothing), None), Status::Online, &g, NOON));
        assert!(call_rings(&choose(Some(NotifyLevel::Mentions), None), Status::Online, &g, NOON));
    }
}
