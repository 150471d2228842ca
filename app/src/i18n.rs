//! The one place user-facing text comes from.
//!
//! Every string the UI shows is a [`Msg`]; each message holds its English and
//! Simplified Chinese text side by side, so a missing translation cannot
//! compile. The server picks the locale from the `natter_lang` cookie, then
//! `Accept-Language`, and renders it into `<html lang>`; the browser starts from
//! that attribute (so hydration matches) and may switch at any time.

use leptos::prelude::*;
use wire::{
    api::EmojiGroup,
    model::{MessageKind, Millis, Presence, Role, Status},
    protocol::{ApiError, ErrorCode, WsErrorCode},
};

/// Cookie that remembers a visitor's explicit language choice.
pub const LANG_COOKIE: &str = "natter_lang";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locale {
    #[default]
    En,
    Zh,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Zh];

    /// BCP 47 tag, as written into `<html lang>` and the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Zh => "zh-CN",
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Zh => "简体中文",
        }
    }

    /// Maps a language tag (`zh`, `zh-Hans-CN`, `en-GB`, …) to a supported locale.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "zh" => Some(Locale::Zh),
            _ => None,
        }
    }

    /// Picks the best supported locale from an `Accept-Language` header value.
    pub fn negotiate(accept_language: &str) -> Locale {
        let mut best: Option<(f32, Locale)> = None;
        for part in accept_language.split(',') {
            let mut fields = part.split(';');
            let Some(locale) = fields.next().and_then(Locale::from_tag) else {
                continue;
            };
            let q = fields
                .find_map(|f| f.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, locale));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    fn pick(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Locale::En => en,
            Locale::Zh => zh,
        }
    }
}

/// Every user-facing string of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Tagline,
    HomeHeadline,
    HomeIntro,
    FeaturePrivate,
    FeatureGroups,
    FeatureHistory,
    FeatureSelfHosted,
    Language,
    NotFoundTitle,
    NotFoundBody,
    BackHome,
    Loading,
    // Header
    AccountMenu,
    NavProfile,
    NavFriends,
    NavDevices,
    SignIn,
    SignUp,
    SignOut,
    // Sign-up and sign-in
    SignUpTitle,
    SignUpSubmit,
    HaveAccount,
    SignInTitle,
    NoAccount,
    NoticeRevoked,
    NoticeExpired,
    Email,
    Nickname,
    Password,
    // Profile
    ProfileTitle,
    Gender,
    GenderUnknown,
    GenderMale,
    GenderFemale,
    Save,
    Saved,
    MemberSince,
    LastSignIn,
    SignInCount,
    Never,
    ChooseAvatar,
    AvatarHint,
    UploadProgress,
    // Password
    ChangePassword,
    CurrentPassword,
    NewPassword,
    PasswordChanged,
    // Devices
    DevicesTitle,
    DevicesIntro,
    ThisDevice,
    SignedInAt,
    LastSeen,
    // Friends
    FriendsTitle,
    FindPeople,
    Search,
    NoOneFound,
    AddFriend,
    RequestSent,
    AlreadyFriends,
    Accept,
    Decline,
    Block,
    Unblock,
    PrivacyTitle,
    WhoMayContact,
    ContactEveryone,
    ContactFriends,
    FindableByEmail,
    BlockedPeople,
    NobodyBlocked,
    // Sign-up modes and invitation links
    SignupClosed,
    SignupInviteOnly,
    NavAdmin,
    AdminTitle,
    InvitesTitle,
    InvitesIntro,
    InviteMaxUses,
    InviteValidDays,
    InviteCreate,
    InviteLink,
    InviteLinkOnce,
    InviteUsesLeft,
    InviteValidUntil,
    InviteExpired,
    InviteRevoke,
    NoInvites,
    ErrInviteRequired,
    ErrInviteInvalid,
    WantsToChat,
    ErrNotAccepting,
    SendNotAccepting,
    CallNotAccepting,
    CancelRequest,
    RemoveFriend,
    IncomingRequests,
    OutgoingRequests,
    YourFriends,
    NoFriendsYet,
    // Header
    NavChats,
    ConnConnecting,
    ConnOnline,
    ConnOffline,
    ConnCrowded,
    // Conversation list
    ChatsTitle,
    FilterAll,
    FilterPrivate,
    FilterGroups,
    NewChat,
    NewGroup,
    BrowseGroups,
    NoChatsYet,
    NoChatsOfKind,
    PickChat,
    // Message search (and `Search`, the people search's button)
    SearchMessages,
    SearchThisChat,
    SearchNothing,
    SearchMore,
    ErrSearchEmpty,
    ErrSearchTooLong,
    Invitations,
    Join,
    You,
    UnreadMessages,
    // Starting chats and groups
    StartChat,
    CreateGroup,
    GroupName,
    Description,
    PublicGroup,
    OpenGroup,
    PickMembers,
    NoFriendsToPick,
    Close,
    // A conversation
    BackToChats,
    GroupInfo,
    LoadEarlier,
    NoMessagesYet,
    Today,
    Yesterday,
    MessageLabel,
    WritePlaceholder,
    Send,
    Sending,
    Retry,
    CharactersUsed,
    NoticeJoined,
    NoticeLeft,
    NoticeRemoved,
    KindImage,
    KindVoice,
    KindVideo,
    KindFile,
    KindVoiceCall,
    KindLiveStream,
    /// Where a deleted message was.
    MessageDeleted,
    /// Beside the time of an edited message.
    Edited,
    Reply,
    ReplyingTo,
    CancelReply,
    EditMessage,
    EditingMessage,
    CancelEdit,
    DeleteMessage,
    ConfirmDelete,
    PinMessage,
    UnpinMessage,
    PinnedMessages,
    MessageActions,
    MoreReactions,
    ReactedWith,
    RemovedBy,
    OriginalDeleted,
    OriginalUnavailable,
    EditHistory,
    ReceiptSent,
    ReceiptDelivered,
    ReceiptRead,
    SeenBy,
    NewMessages,
    JumpToUnread,
    Mentioned,
    FilterMentions,
    MentionEveryone,
    MentionSuggestions,
    SendReadReceipts,
    ChangeForbidden,
    ChangeGone,
    ChangeWindowClosed,
    ChangeTooManyReactions,
    ChangeFailed,
    KindVideoCall,
    // Attachments
    AttachFile,
    RecordVoice,
    RecordVideo,
    StopAndSend,
    CancelRecording,
    Recording,
    DownloadFile,
    ShowFullImage,
    CloseImage,
    ErrFileTooLarge,
    ErrQuotaExceeded,
    ErrFileKind,
    ErrFileName,
    ErrFileEmpty,
    ErrRecording,
    SendNotMember,
    SendTooLong,
    SendRateLimited,
    SendRetry,
    SendFailed,
    SendRefused,
    // Emoji picker
    EmojiButton,
    EmojiSearch,
    EmojiRecent,
    EmojiNoMatch,
    EmojiUnavailable,
    EmojiSmileys,
    EmojiPeople,
    EmojiAnimals,
    EmojiFood,
    EmojiTravel,
    EmojiActivities,
    EmojiObjects,
    EmojiSymbols,
    EmojiFlags,
    // Group panel
    Participants,
    RoleOwner,
    RoleAdmin,
    RoleMember,
    Online,
    Offline,
    Away,
    Busy,
    Invisible,
    MyStatus,
    StatusHere,
    StatusAsEverywhere,
    IsTyping,
    AreTyping,
    InvitePeople,
    Invite,
    Invited,
    LeaveGroup,
    GroupSettings,
    // Public groups
    GroupsTitle,
    GroupsIntro,
    NoPublicGroups,
    FindGroups,
    NoGroupFound,
    MemberCount,
    InviteOnly,
    OpenChat,
    LoadMore,
    // Errors, see [`Msg::for_error`]
    ErrInvalidCredentials,
    ErrWrongCurrentPassword,
    ErrEmailTaken,
    ErrRateLimited,
    ErrSignedOut,
    ErrExpired,
    ErrImageTooLarge,
    ErrImageUnreadable,
    ErrUnavailable,
    ErrInternal,
    ErrEmail,
    ErrNickname,
    ErrPassword,
    ErrCurrentPasswordMissing,
    ErrSearch,
    ErrGroupName,
    ErrDescription,
    ErrForbidden,
    ErrAlreadyMember,
    ErrNoSuchChat,
    // 1:1 calls
    CallVoice,
    CallVideo,
    CallIncomingVoice,
    CallIncomingVideo,
    CallAccept,
    CallDecline,
    CallCalling,
    CallConnecting,
    CallCancel,
    CallHangUp,
    CallSwitchCamera,
    CallPeerMuted,
    CallPeerCameraOff,
    CallReconnecting,
    CallBusy,
    CallTooOften,
    CallDeclined,
    CallCancelled,
    CallMissed,
    CallNoAnswer,
    CallEnded,
    CallFailed,
    CallNoMedia,
    // Group calls and live broadcasts
    StartVoiceCall,
    StartVideoCall,
    GoLiveCamera,
    GoLiveScreen,
    CallInProgress,
    JoinCall,
    LiveNow,
    Watching,
    Watch,
    LeaveCall,
    StopLive,
    StopWatching,
    Mute,
    Unmute,
    CameraOff,
    CameraOn,
    RoomConnecting,
    RoomEnded,
    RoomRemoved,
    RoomFailed,
    RoomElsewhere,
    RoomTooOften,
    RoomNotMember,
    RoomFull,
    RoomUnavailable,
    RoomNoDevice,
    RoomSpeaking,
    // Notifications
    NotifyTitle,
    NotifyIntro,
    NotifyPushOnThisDevice,
    NotifyPushOn,
    NotifyPushOff,
    NotifyPushIsOn,
    NotifyPushIsOff,
    NotifyPushUnsupported,
    NotifyPushDenied,
    NotifyPushFailed,
    NotifyTest,
    NotifyTestSent,
    NotifyHidePreviews,
    NotifySound,
    NotifyQuietHours,
    NotifyQuietFrom,
    NotifyQuietTo,
    NotifyConversations,
    NotifyNoConversations,
    NotifyLevelDefault,
    NotifyLevelAll,
    NotifyLevelMentions,
    NotifyLevelNothing,
    NotifyMute,
    NotifyMuteHour,
    NotifyMuteEight,
    NotifyMuteWeek,
    NotifyMuteForever,
    NotifyUnmute,
    NotifyMutedUntil,
    NotifyMutedForever,
    NotifyChatButton,
    NotifyBannerText,
    NotifyBannerAllow,
    NotifyBannerLater,
    NotifyNewMessage,
    // The app shell, the chat's title bar, themes, shortcuts, the home page
    MainMenu,
    NavGroups,
    MoreActions,
    SearchInChat,
    MemberShown,
    MembersShown,
    Theme,
    ThemeSystem,
    ThemeLight,
    ThemeDark,
    Shortcuts,
    ShortcutJump,
    ShortcutMoveChats,
    ShortcutEditLast,
    ShortcutClose,
    ShortcutSend,
    ShortcutHelp,
    JumpToChat,
    JumpPlaceholder,
    JumpNoMatch,
    AttachMenu,
    OpenNatter,
    CreateAccount,
    SampleGroup,
    SampleQuestion,
    SampleAnswer,
    SampleThanks,
}

impl Msg {
    pub fn text(self, l: Locale) -> &'static str {
        use Msg::*;
        match self {
            Tagline => l.pick("Chat for your team, school or community", "为团队、学校和社区打造的聊天"),
            HomeHeadline => l.pick("Welcome to Natter", "欢迎使用 Natter"),
            HomeIntro => l.pick(
                "A self-hosted instant messenger: your server, your data, every device.",
                "一款可自行部署的即时通讯工具：你的服务器，你的数据，所有设备通用。",
            ),
            FeaturePrivate => l.pick("Private chats", "私聊"),
            FeatureGroups => l.pick("Public and invite-only groups", "公开群组与邀请制群组"),
            FeatureHistory => l.pick("Full history, even after being offline", "完整历史记录，离线后也不丢失"),
            FeatureSelfHosted => l.pick("Runs on one machine or a cluster", "单机或集群均可运行"),
            Language => l.pick("Language", "语言"),
            NotFoundTitle => l.pick("Page not found", "页面不存在"),
            NotFoundBody => l.pick("There is nothing at this address.", "这个地址没有内容。"),
            BackHome => l.pick("Back to the start page", "返回首页"),
            Loading => l.pick("Loading…", "加载中…"),
            AccountMenu => l.pick("Account", "账户"),
            NavProfile => l.pick("Profile", "个人资料"),
            NavFriends => l.pick("Friends", "好友"),
            NavDevices => l.pick("Devices", "设备"),
            SignIn => l.pick("Sign in", "登录"),
            SignUp => l.pick("Sign up", "注册"),
            SignOut => l.pick("Sign out", "退出登录"),
            SignUpTitle => l.pick("Create your account", "创建账户"),
            SignUpSubmit => l.pick("Create account", "创建账户"),
            HaveAccount => l.pick("Already have an account?", "已有账户？"),
            SignInTitle => l.pick("Sign in to Natter", "登录 Natter"),
            NoAccount => l.pick("New to Natter?", "还没有账户？"),
            NoticeRevoked => l.pick(
                "You signed in again on this device, or were signed out from another one. Please sign in.",
                "你已在此设备上重新登录，或已从其他设备被退出登录。请重新登录。",
            ),
            NoticeExpired => l.pick("Your sign-in has expired. Please sign in again.", "登录已过期，请重新登录。"),
            Email => l.pick("E-mail", "电子邮件"),
            Nickname => l.pick("Nickname", "昵称"),
            Password => l.pick("Password", "密码"),
            ProfileTitle => l.pick("Your profile", "个人资料"),
            Gender => l.pick("Gender", "性别"),
            GenderUnknown => l.pick("Prefer not to say", "不透露"),
            GenderMale => l.pick("Male", "男"),
            GenderFemale => l.pick("Female", "女"),
            Save => l.pick("Save", "保存"),
            Saved => l.pick("Saved.", "已保存。"),
            MemberSince => l.pick("Member since", "注册时间"),
            LastSignIn => l.pick("Last sign-in", "上次登录"),
            SignInCount => l.pick("Sign-ins", "登录次数"),
            Never => l.pick("Never", "从未"),
            ChooseAvatar => l.pick("Choose a new picture", "选择新头像"),
            AvatarHint => l.pick("PNG, JPEG, WebP or GIF, up to 5 MB", "PNG、JPEG、WebP 或 GIF，不超过 5 MB"),
            UploadProgress => l.pick("Upload progress", "上传进度"),
            ChangePassword => l.pick("Change password", "修改密码"),
            CurrentPassword => l.pick("Current password", "当前密码"),
            NewPassword => l.pick("New password", "新密码"),
            PasswordChanged => l.pick(
                "Password changed. Your other devices have been signed out.",
                "密码已修改，你的其他设备已退出登录。",
            ),
            DevicesTitle => l.pick("Your devices", "你的设备"),
            DevicesIntro => l.pick(
                "Browsers and apps signed in to your account. Sign out any you do not recognise.",
                "已登录你账户的浏览器和应用。如有不认识的设备，请将其退出登录。",
            ),
            ThisDevice => l.pick("This device", "本设备"),
            SignedInAt => l.pick("Signed in", "登录时间"),
            LastSeen => l.pick("Last active", "最近活动"),
            FriendsTitle => l.pick("Friends", "好友"),
            FindPeople => l.pick(
                "Find people by any part of a nickname, pinyin or e-mail",
                "按昵称的任意部分、拼音或电子邮件查找用户",
            ),
            Search => l.pick("Search", "搜索"),
            NoOneFound => l.pick("No one found.", "没有找到用户。"),
            AddFriend => l.pick("Add friend", "加为好友"),
            RequestSent => l.pick("Request sent", "已发送请求"),
            AlreadyFriends => l.pick("Friends", "已是好友"),
            Accept => l.pick("Accept", "接受"),
            Decline => l.pick("Decline", "拒绝"),
            Block => l.pick("Block", "屏蔽"),
            Unblock => l.pick("Unblock", "取消屏蔽"),
            PrivacyTitle => l.pick("Privacy", "隐私"),
            SignupClosed => l.pick(
                "Sign-ups are closed on this server. Ask its administrator for an account.",
                "此服务器已关闭注册。请向管理员申请账户。",
            ),
            SignupInviteOnly => l.pick(
                "This server takes sign-ups by invitation only: open the invitation link you were sent.",
                "此服务器仅限受邀注册：请打开你收到的邀请链接。",
            ),
            NavAdmin => l.pick("Administration", "管理"),
            AdminTitle => l.pick("Administration", "管理"),
            InvitesTitle => l.pick("Invitation links", "邀请链接"),
            InvitesIntro => l.pick(
                "Whoever opens an invitation link may create an account, as many times as the link allows.",
                "任何打开邀请链接的人都可以创建账户，次数以链接允许的为限。",
            ),
            InviteMaxUses => l.pick("Sign-ups it admits", "可注册次数"),
            InviteValidDays => l.pick("Valid for (days)", "有效期（天）"),
            InviteCreate => l.pick("Create link", "创建链接"),
            InviteLink => l.pick("New invitation link", "新邀请链接"),
            InviteLinkOnce => l.pick(
                "Copy it now: it is shown only this once.",
                "请立即复制：此链接只显示这一次。",
            ),
            InviteUsesLeft => l.pick("Sign-ups left", "剩余注册次数"),
            InviteValidUntil => l.pick("Valid until", "有效期至"),
            InviteExpired => l.pick("Expired", "已过期"),
            InviteRevoke => l.pick("Revoke", "撤销"),
            NoInvites => l.pick("No invitation links.", "没有邀请链接。"),
            ErrInviteRequired => l.pick(
                "This server takes sign-ups by invitation only.",
                "此服务器仅限受邀注册。",
            ),
            ErrInviteInvalid => l.pick(
                "This invitation link is not valid: it may have expired, been used up or been revoked.",
                "此邀请链接无效：可能已过期、已用完或已被撤销。",
            ),
            WhoMayContact => l.pick("Who may message and call me", "谁可以给我发消息和打电话"),
            ContactEveryone => l.pick(
                "Everyone (people who are not my friends send a request first)",
                "所有人（非好友需先发送请求）",
            ),
            ContactFriends => l.pick("Friends only", "仅好友"),
            FindableByEmail => l.pick("People who know my e-mail address can find me by it", "知道我邮箱地址的人可以通过它找到我"),
            BlockedPeople => l.pick("Blocked people", "已屏蔽的人"),
            NobodyBlocked => l.pick("You have not blocked anyone.", "你没有屏蔽任何人。"),
            WantsToChat => l.pick("wants to chat with you", "想和你聊天"),
            ErrNotAccepting => l.pick("This person does not accept this from you.", "对方不接受你的此项请求。"),
            SendNotAccepting => l.pick("Not sent: this person does not accept your messages.", "未发送：对方不接受你的消息。"),
            CallNotAccepting => l.pick("This person does not accept your calls.", "对方不接受你的通话。"),
            CancelRequest => l.pick("Cancel", "取消"),
            RemoveFriend => l.pick("Remove", "删除"),
            IncomingRequests => l.pick("Friend requests", "好友请求"),
            OutgoingRequests => l.pick("Sent requests", "已发送的请求"),
            YourFriends => l.pick("Your friends", "你的好友"),
            NoFriendsYet => l.pick("No friends yet: find people above.", "还没有好友，在上方查找用户吧。"),
            NavChats => l.pick("Chats", "聊天"),
            ConnConnecting => l.pick("Connecting…", "连接中…"),
            ConnOnline => l.pick("Connected", "已连接"),
            ConnOffline => l.pick("Offline, reconnecting…", "已离线，正在重连…"),
            ConnCrowded => l.pick(
                "Too many tabs or devices are connected to your account; close some. Retrying…",
                "你的账号连接的标签页或设备过多，请关闭一些。正在重试…",
            ),
            ChatsTitle => l.pick("Chats", "聊天"),
            FilterAll => l.pick("All", "全部"),
            FilterPrivate => l.pick("Private", "私聊"),
            FilterGroups => l.pick("Groups", "群组"),
            NewChat => l.pick("New chat", "发起聊天"),
            NewGroup => l.pick("New group", "新建群组"),
            BrowseGroups => l.pick("Browse public groups", "浏览公开群组"),
            NoChatsYet => l.pick(
                "No conversations yet: start a chat with a friend, or create a group.",
                "还没有会话：和好友发起聊天，或新建一个群组吧。",
            ),
            NoChatsOfKind => l.pick("Nothing here yet.", "这里还没有会话。"),
            PickChat => l.pick("Choose a conversation to start chatting.", "选择一个会话开始聊天。"),
            SearchMessages => l.pick("Search messages", "搜索消息"),
            SearchThisChat => l.pick("Search this chat", "搜索本会话"),
            SearchNothing => l.pick("No messages found.", "没有找到消息。"),
            SearchMore => l.pick("More results", "更多结果"),
            ErrSearchEmpty => l.pick("Type a word or some characters to look for.", "请输入要查找的词或文字。"),
            ErrSearchTooLong => l.pick("Search for at most 200 characters.", "搜索内容最多 200 个字符。"),
            Invitations => l.pick("Invitations", "群组邀请"),
            Join => l.pick("Join", "加入"),
            You => l.pick("You", "我"),
            UnreadMessages => l.pick("unread messages", "条未读消息"),
            StartChat => l.pick("Chat", "聊天"),
            CreateGroup => l.pick("Create group", "创建群组"),
            GroupName => l.pick("Group name", "群组名称"),
            Description => l.pick("Description (optional)", "简介（可选）"),
            PublicGroup => l.pick("List it among the public groups", "在公开群组中列出"),
            OpenGroup => l.pick("Anyone may join without an invitation", "任何人无需邀请即可加入"),
            PickMembers => l.pick("Members", "成员"),
            NoFriendsToPick => l.pick(
                "Your friends can be added here. You can invite anyone later.",
                "可以在这里添加好友，之后也可以邀请其他人。",
            ),
            Close => l.pick("Close", "关闭"),
            BackToChats => l.pick("Back to the chats", "返回聊天列表"),
            GroupInfo => l.pick("Group info", "群组信息"),
            LoadEarlier => l.pick("Load earlier messages", "加载更早的消息"),
            NoMessagesYet => l.pick("No messages yet. Say hello!", "还没有消息，打个招呼吧！"),
            Today => l.pick("Today", "今天"),
            Yesterday => l.pick("Yesterday", "昨天"),
            MessageLabel => l.pick("Message", "消息"),
            WritePlaceholder => l.pick("Write a message", "输入消息"),
            Send => l.pick("Send", "发送"),
            Sending => l.pick("Sending…", "发送中…"),
            Retry => l.pick("Retry", "重试"),
            CharactersUsed => l.pick("characters used", "已用字数"),
            NoticeJoined => l.pick("joined the group", "加入了群组"),
            NoticeLeft => l.pick("left the group", "退出了群组"),
            NoticeRemoved => l.pick("was removed from the group", "被移出了群组"),
            KindImage => l.pick("[Picture]", "[图片]"),
            KindVoice => l.pick("[Voice message]", "[语音]"),
            KindVideo => l.pick("[Video]", "[视频]"),
            KindFile => l.pick("[File]", "[文件]"),
            KindVoiceCall => l.pick("[Voice call]", "[语音通话]"),
            KindVideoCall => l.pick("[Video call]", "[视频通话]"),
            KindLiveStream => l.pick("[Live broadcast]", "[直播]"),
            MessageDeleted => l.pick("Message deleted", "消息已删除"),
            Edited => l.pick("edited", "已编辑"),
            Reply => l.pick("Reply", "回复"),
            ReplyingTo => l.pick("Replying to", "回复"),
            CancelReply => l.pick("Cancel reply", "取消回复"),
            EditMessage => l.pick("Edit", "编辑"),
            EditingMessage => l.pick("Editing message", "正在编辑消息"),
            CancelEdit => l.pick("Cancel editing", "取消编辑"),
            DeleteMessage => l.pick("Delete", "删除"),
            ConfirmDelete => l.pick("Delete for everyone", "为所有人删除"),
            PinMessage => l.pick("Pin", "置顶"),
            UnpinMessage => l.pick("Unpin", "取消置顶"),
            PinnedMessages => l.pick("Pinned", "置顶消息"),
            MessageActions => l.pick("Message actions", "消息操作"),
            MoreReactions => l.pick("More reactions", "更多表情"),
            ReactedWith => l.pick("reacted with", "回应了"),
            RemovedBy => l.pick("Removed by", "移除者："),
            OriginalDeleted => l.pick("The original message was deleted", "原消息已删除"),
            OriginalUnavailable => l.pick("Earlier message", "较早的消息"),
            EditHistory => l.pick("Edit history", "编辑记录"),
            ReceiptSent => l.pick("Sent", "已发送"),
            ReceiptDelivered => l.pick("Delivered", "已送达"),
            ReceiptRead => l.pick("Read", "已读"),
            SeenBy => l.pick("Seen by", "已读："),
            NewMessages => l.pick("New messages", "以下为新消息"),
            JumpToUnread => l.pick("Jump to first unread", "跳到第一条未读消息"),
            Mentioned => l.pick("You were mentioned", "有人@了你"),
            FilterMentions => l.pick("Mentions", "@我的"),
            MentionEveryone => l.pick("Everyone in this group", "群里所有人"),
            MentionSuggestions => l.pick("People to mention", "可以@的人"),
            SendReadReceipts => l.pick("Send read receipts (when off, you see none either)", "发送已读回执（关闭后你也看不到别人的）"),
            ChangeForbidden => l.pick("You may not change this message", "你不能修改这条消息"),
            ChangeGone => l.pick("That message no longer exists", "这条消息已不存在"),
            ChangeWindowClosed => l.pick("Messages can be edited only for a while after sending", "消息只能在发送后的一段时间内编辑"),
            ChangeTooManyReactions => l.pick("This message has as many different reactions as it may", "这条消息的表情回应种类已达上限"),
            ChangeFailed => l.pick("That did not work; please try again", "操作失败，请重试"),
            AttachFile => l.pick("Attach a picture or file", "发送图片或文件"),
            RecordVoice => l.pick("Record a voice message", "录制语音"),
            RecordVideo => l.pick("Record a video", "录制视频"),
            StopAndSend => l.pick("Stop and send", "停止并发送"),
            CancelRecording => l.pick("Cancel", "取消"),
            Recording => l.pick("Recording", "正在录制"),
            DownloadFile => l.pick("Download", "下载"),
            ShowFullImage => l.pick("Show the full picture", "查看原图"),
            CloseImage => l.pick("Close", "关闭"),
            ErrFileTooLarge => l.pick("This file is too large to send.", "文件太大，无法发送。"),
            ErrQuotaExceeded => l.pick(
                "Your storage is full. Files uploaded but never sent are removed after a day.",
                "您的存储空间已满。上传后未发送的文件会在一天后删除。",
            ),
            ErrFileKind => l.pick("This file cannot be sent that way.", "无法以这种方式发送该文件。"),
            ErrFileName => l.pick("This file's name cannot be used; rename it first.", "文件名不可用，请先重命名。"),
            ErrFileEmpty => l.pick("This file is empty.", "文件是空的。"),
            ErrRecording => l.pick(
                "Recording is not possible: allow the microphone or camera.",
                "无法录制：请允许使用麦克风或摄像头。"
            ),
            SendNotMember => l.pick("Not sent: you are not a member of this conversation.", "未发送：你不是该会话的成员。"),
            SendTooLong => l.pick("Not sent: a message holds at most 4000 characters.", "未发送：消息最多 4000 个字符。"),
            SendRateLimited => l.pick("Not sent: you are sending too fast.", "未发送：发送过于频繁。"),
            SendRetry => l.pick("Not sent: the server could not store it.", "未发送：服务器暂时无法保存。"),
            SendFailed => l.pick("Not sent.", "未发送。"),
            SendRefused => l.pick(
                "Not sent: it contains a word that is not allowed here. Edit it and send again.",
                "未发送：消息包含此处不允许的词语，请修改后重新发送。",
            ),
            EmojiButton => l.pick("Emoji", "表情"),
            EmojiSearch => l.pick("Search emoji", "搜索表情"),
            EmojiRecent => l.pick("Recently used", "最近使用"),
            EmojiNoMatch => l.pick("No emoji found.", "没有找到表情。"),
            EmojiUnavailable => l.pick("The emoji could not be loaded.", "无法加载表情。"),
            EmojiSmileys => l.pick("Smileys & emotion", "笑脸与情感"),
            EmojiPeople => l.pick("People & body", "人物与身体"),
            EmojiAnimals => l.pick("Animals & nature", "动物与自然"),
            EmojiFood => l.pick("Food & drink", "食物与饮料"),
            EmojiTravel => l.pick("Travel & places", "旅行与地点"),
            EmojiActivities => l.pick("Activities", "活动"),
            EmojiObjects => l.pick("Objects", "物品"),
            EmojiSymbols => l.pick("Symbols", "符号"),
            EmojiFlags => l.pick("Flags", "旗帜"),
            Participants => l.pick("Participants", "成员"),
            RoleOwner => l.pick("Owner", "群主"),
            RoleAdmin => l.pick("Admin", "管理员"),
            RoleMember => l.pick("Member", "成员"),
            Online => l.pick("Online", "在线"),
            Offline => l.pick("Offline", "离线"),
            Away => l.pick("Away", "离开"),
            Busy => l.pick("Busy", "忙碌"),
            Invisible => l.pick("Invisible", "隐身"),
            MyStatus => l.pick("My status", "我的状态"),
            StatusHere => l.pick("My status in this chat", "我在此会话中的状态"),
            StatusAsEverywhere => l.pick("As everywhere", "与全局相同"),
            IsTyping => l.pick(" is typing…", " 正在输入…"),
            AreTyping => l.pick(" are typing…", " 正在输入…"),
            InvitePeople => l.pick("Invite people", "邀请成员"),
            Invite => l.pick("Invite", "邀请"),
            Invited => l.pick("Invitation sent.", "邀请已发送。"),
            LeaveGroup => l.pick("Leave the group", "退出群组"),
            GroupSettings => l.pick("Settings", "群组设置"),
            GroupsTitle => l.pick("Public groups", "公开群组"),
            GroupsIntro => l.pick(
                "Groups anyone can find. Join an open one, or ask a member to invite you.",
                "任何人都能找到的群组。开放群组可直接加入，其他群组请成员邀请你。",
            ),
            NoPublicGroups => l.pick("No public groups yet.", "还没有公开群组。"),
            FindGroups => l.pick("Find groups by name or description", "按名称或简介查找群组"),
            NoGroupFound => l.pick("No group found.", "没有找到群组。"),
            MemberCount => l.pick("Members", "成员"),
            InviteOnly => l.pick("Invite only", "仅限邀请"),
            OpenChat => l.pick("Open", "打开"),
            LoadMore => l.pick("Show more", "显示更多"),
            ErrInvalidCredentials => l.pick("Wrong e-mail address or password.", "电子邮件或密码错误。"),
            ErrWrongCurrentPassword => l.pick("The current password is wrong.", "当前密码不正确。"),
            ErrEmailTaken => l.pick(
                "An account with this e-mail address exists already.",
                "该电子邮件地址已被注册。",
            ),
            ErrRateLimited => l.pick("Too many attempts. Please wait a minute and try again.", "尝试次数过多，请稍等片刻再试。"),
            ErrSignedOut => l.pick("You are signed out. Please sign in again.", "你已退出登录，请重新登录。"),
            ErrExpired => l.pick("Your sign-in had expired. Please try again.", "登录已过期，请重试。"),
            ErrImageTooLarge => l.pick("This picture is too large.", "这张图片太大了。"),
            ErrImageUnreadable => l.pick(
                "This file is not a picture Natter can read: choose a PNG, JPEG, WebP or GIF image.",
                "无法读取此文件：请选择 PNG、JPEG、WebP 或 GIF 图片。",
            ),
            ErrUnavailable => l.pick("The server is busy. Please try again shortly.", "服务器繁忙，请稍后再试。"),
            ErrInternal => l.pick(
                "Something went wrong. Check your connection and try again.",
                "出错了，请检查网络连接后重试。",
            ),
            ErrEmail => l.pick("Enter a valid e-mail address.", "请输入有效的电子邮件地址。"),
            ErrNickname => l.pick("Enter a nickname of 1 to 64 characters.", "请输入 1 到 64 个字符的昵称。"),
            ErrPassword => l.pick("Use 8 to 1024 characters.", "请使用 8 到 1024 个字符。"),
            ErrCurrentPasswordMissing => l.pick("Enter your current password.", "请输入当前密码。"),
            ErrSearch => l.pick("Type part of a nickname, or an e-mail address.", "请输入昵称的一部分或电子邮件地址。"),
            ErrGroupName => l.pick("Enter a group name of 1 to 64 characters.", "请输入 1 到 64 个字符的群组名称。"),
            ErrDescription => l.pick("Use at most 500 characters.", "最多 500 个字符。"),
            ErrForbidden => l.pick("You may not do that here.", "你无权执行此操作。"),
            ErrAlreadyMember => l.pick("They are a member already.", "对方已经是成员了。"),
            ErrNoSuchChat => l.pick(
                "This conversation does not exist, or you are not in it.",
                "该会话不存在，或者你不是其成员。",
            ),
            CallVoice => l.pick("Voice call", "语音通话"),
            CallVideo => l.pick("Video call", "视频通话"),
            CallIncomingVoice => l.pick("is calling you (voice)", "邀请你语音通话"),
            CallIncomingVideo => l.pick("is calling you (video)", "邀请你视频通话"),
            CallAccept => l.pick("Accept", "接听"),
            CallDecline => l.pick("Decline", "拒绝"),
            CallCalling => l.pick("Calling…", "正在呼叫…"),
            CallConnecting => l.pick("Connecting…", "正在连接…"),
            CallCancel => l.pick("Cancel", "取消"),
            CallHangUp => l.pick("Hang up", "挂断"),
            CallSwitchCamera => l.pick("Switch camera", "切换摄像头"),
            CallPeerMuted => l.pick("Muted", "对方已静音"),
            CallPeerCameraOff => l.pick("Camera off", "对方已关闭摄像头"),
            CallReconnecting => l.pick("Reconnecting…", "正在重新连接…"),
            CallBusy => l.pick("Busy: they are in another call", "对方正在通话中"),
            CallTooOften => l.pick("You are calling too often; wait a moment.", "呼叫过于频繁，请稍候。"),
            CallDeclined => l.pick("Declined", "已拒绝"),
            CallCancelled => l.pick("Cancelled", "已取消"),
            CallMissed => l.pick("Missed call", "未接来电"),
            CallNoAnswer => l.pick("No answer", "无人接听"),
            CallEnded => l.pick("Call ended", "通话已结束"),
            CallFailed => l.pick("The call could not be made", "无法发起通话"),
            CallNoMedia => l.pick("No access to the microphone or camera", "无法使用麦克风或摄像头"),
            StartVoiceCall => l.pick("Voice call", "语音通话"),
            StartVideoCall => l.pick("Video call", "视频通话"),
            GoLiveCamera => l.pick("Go live", "开始直播"),
            GoLiveScreen => l.pick("Share screen live", "直播屏幕"),
            MainMenu => l.pick("Main", "主菜单"),
            NavGroups => l.pick("Groups", "群组"),
            MoreActions => l.pick("More actions", "更多操作"),
            SearchInChat => l.pick("Search in this chat", "在此聊天中搜索"),
            MemberShown => l.pick("member", "位成员"),
            MembersShown => l.pick("members", "位成员"),
            Theme => l.pick("Theme", "主题"),
            ThemeSystem => l.pick("Auto", "自动"),
            ThemeLight => l.pick("Light", "浅色"),
            ThemeDark => l.pick("Dark", "深色"),
            Shortcuts => l.pick("Keyboard shortcuts", "键盘快捷键"),
            ShortcutJump => l.pick("Jump to a chat", "跳转到聊天"),
            ShortcutMoveChats => l.pick("Previous or next chat", "上一个或下一个聊天"),
            ShortcutEditLast => l.pick("Edit your last message (in an empty box)", "编辑你的上一条消息（输入框为空时）"),
            ShortcutClose => l.pick("Close a dialog or menu, cancel a reply or edit", "关闭对话框或菜单，取消回复或编辑"),
            ShortcutSend => l.pick("Send; with Shift, a new line", "发送；按住 Shift 换行"),
            ShortcutHelp => l.pick("Show these shortcuts", "显示这些快捷键"),
            JumpToChat => l.pick("Jump to a chat", "跳转到聊天"),
            JumpPlaceholder => l.pick("Type a chat's name", "输入聊天名称"),
            JumpNoMatch => l.pick("No chat by that name.", "没有这个名称的聊天。"),
            AttachMenu => l.pick("Attach", "附件"),
            OpenNatter => l.pick("Open Natter", "打开 Natter"),
            CreateAccount => l.pick("Create an account", "创建账户"),
            SampleGroup => l.pick("Book club", "读书会"),
            SampleQuestion => l.pick("Are we still on for Friday?", "周五的安排还照旧吗？"),
            SampleAnswer => l.pick("Yes! I'll book the table 🎉", "是的！我来订位 🎉"),
            SampleThanks => l.pick("Perfect, see you there", "太好了，到时见"),
            CallInProgress => l.pick("Call in progress", "通话进行中"),
            JoinCall => l.pick("Join", "加入"),
            LiveNow => l.pick("Live now", "正在直播"),
            Watching => l.pick("watching", "人观看"),
            Watch => l.pick("Watch", "观看"),
            LeaveCall => l.pick("Leave", "离开"),
            StopLive => l.pick("Stop broadcast", "停止直播"),
            StopWatching => l.pick("Stop watching", "停止观看"),
            Mute => l.pick("Mute", "静音"),
            Unmute => l.pick("Unmute", "取消静音"),
            CameraOff => l.pick("Turn camera off", "关闭摄像头"),
            CameraOn => l.pick("Turn camera on", "打开摄像头"),
            RoomConnecting => l.pick("Connecting…", "正在连接…"),
            RoomEnded => l.pick("The broadcast has ended.", "直播已结束。"),
            RoomRemoved => l.pick("You are no longer a member of this group.", "你已不再是该群组的成员。"),
            RoomFailed => l.pick("The connection was lost.", "连接已断开。"),
            RoomElsewhere => l.pick("You joined from another tab or device.", "你已在其他标签页或设备上加入。"),
            RoomTooOften => l.pick("You are joining too often; wait a moment.", "加入过于频繁，请稍候。"),
            RoomNotMember => l.pick("Only members of this group can take part.", "只有本群组成员才能参与。"),
            RoomFull => l.pick("Someone else is broadcasting, or the call is full.", "已有其他人在直播，或通话人数已满。"),
            RoomUnavailable => l.pick("Calls are unavailable on this server right now.", "此服务器当前无法通话。"),
            RoomNoDevice => l.pick("No camera or microphone could be used.", "无法使用摄像头或麦克风。"),
            RoomSpeaking => l.pick("speaking", "正在说话"),
            NotifyTitle => l.pick("Notifications", "通知"),
            NotifyIntro => l.pick("How Natter tells you about new messages and calls.", "Natter 如何提醒你新消息和来电。"),
            NotifyPushOnThisDevice => l.pick("Notifications on this device when Natter is closed", "Natter 关闭时在此设备上通知"),
            NotifyPushOn => l.pick("Turn on", "开启"),
            NotifyPushOff => l.pick("Turn off", "关闭"),
            NotifyPushIsOn => l.pick("On for this device.", "此设备已开启。"),
            NotifyPushIsOff => l.pick("Off for this device.", "此设备未开启。"),
            NotifyPushUnsupported => l.pick(
                "This browser cannot receive notifications while Natter is closed. Natter tells you in the page while it is open.",
                "此浏览器无法在 Natter 关闭时接收通知。Natter 打开时会在页面内提醒你。",
            ),
            NotifyPushDenied => l.pick(
                "Notifications are blocked for this site in the browser's settings. Allow them there to turn this on; meanwhile Natter tells you in the page while it is open.",
                "浏览器设置中已阻止本站的通知。请在那里允许后再开启；在此之前，Natter 打开时会在页面内提醒你。",
            ),
            NotifyPushFailed => l.pick(
                "The browser's push service could not be reached (in some networks, such as in mainland China, Chrome's cannot). Natter tells you in the page while it is open.",
                "无法连接浏览器的推送服务（在某些网络中，例如中国大陆，Chrome 的推送服务无法访问）。Natter 打开时会在页面内提醒你。",
            ),
            NotifyTest => l.pick("Send me a test notification", "给我发一条测试通知"),
            NotifyTestSent => l.pick("A test notification is on its way.", "测试通知已发出。"),
            NotifyHidePreviews => l.pick(
                "Hide message text in notifications (they say “New message”)",
                "通知中隐藏消息内容（只显示“新消息”）",
            ),
            NotifySound => l.pick("Play a sound for new messages in other conversations", "其他会话有新消息时播放提示音"),
            NotifyQuietHours => l.pick("Do not disturb", "勿扰时段"),
            NotifyQuietFrom => l.pick("From", "从"),
            NotifyQuietTo => l.pick("to", "到"),
            NotifyConversations => l.pick("Conversations with their own setting", "单独设置的会话"),
            NotifyNoConversations => l.pick("None yet: set one from a chat's bell.", "暂无：可在会话的铃铛中设置。"),
            NotifyLevelDefault => l.pick("Default", "默认"),
            NotifyLevelAll => l.pick("All messages", "所有消息"),
            NotifyLevelMentions => l.pick("Mentions only", "仅@我"),
            NotifyLevelNothing => l.pick("Nothing", "不通知"),
            NotifyMute => l.pick("Mute", "免打扰"),
            NotifyMuteHour => l.pick("for 1 hour", "1 小时"),
            NotifyMuteEight => l.pick("for 8 hours", "8 小时"),
            NotifyMuteWeek => l.pick("for 1 week", "1 周"),
            NotifyMuteForever => l.pick("until I unmute", "直到我取消"),
            NotifyUnmute => l.pick("Unmute", "取消免打扰"),
            NotifyMutedUntil => l.pick("Muted until", "免打扰至"),
            NotifyMutedForever => l.pick("Muted", "已免打扰"),
            NotifyChatButton => l.pick("Notifications for this chat", "此会话的通知"),
            NotifyBannerText => l.pick(
                "Want to know about new messages while Natter is in another tab or closed?",
                "希望在 Natter 处于其他标签页或关闭时也收到新消息提醒吗？",
            ),
            NotifyBannerAllow => l.pick("Allow notifications", "允许通知"),
            NotifyBannerLater => l.pick("Not now", "以后再说"),
            NotifyNewMessage => l.pick("New message", "新消息"),
        }
    }

    /// Why the server refused to let the user into a room.
    pub fn for_room_error(code: WsErrorCode) -> Msg {
        match code {
            WsErrorCode::NotMember => Msg::RoomNotMember,
            WsErrorCode::RoomFull => Msg::RoomFull,
            WsErrorCode::NoRoom => Msg::RoomEnded,
            WsErrorCode::MediaUnavailable => Msg::RoomUnavailable,
            WsErrorCode::RoomRateLimited => Msg::RoomTooOften,
            _ => Msg::RoomFailed,
        }
    }

    /// The localized text for an API error, by its code and field; `None`
    /// where the server's (English) message is the best there is.
    pub fn for_error(err: &ApiError) -> Option<Msg> {
        use ErrorCode::*;
        use Msg::*;
        Some(match (err.code, err.field.as_deref()) {
            (InvalidCredentials, Some("current_password")) => ErrWrongCurrentPassword,
            (InvalidCredentials, _) => ErrInvalidCredentials,
            (EmailTaken, _) => ErrEmailTaken,
            (RateLimited, _) => ErrRateLimited,
            (Unauthorized | TokenRevoked, _) => ErrSignedOut,
            (TokenExpired, _) => ErrExpired,
            (QuotaExceeded, _) => ErrQuotaExceeded,
            (PayloadTooLarge, _) => ErrImageTooLarge,
            (UnsupportedMediaType, _) | (BadRequest, Some("avatar")) => ErrImageUnreadable,
            (StoreUnavailable, _) => ErrUnavailable,
            (Internal, _) => ErrInternal,
            (BadRequest, Some("email")) => ErrEmail,
            (BadRequest, Some("nickname")) => ErrNickname,
            (BadRequest, Some("password" | "new_password")) => ErrPassword,
            (BadRequest, Some("current_password")) => ErrCurrentPasswordMissing,
            (BadRequest, Some("q")) => ErrSearch,
            (EmptyQuery, _) => ErrSearchEmpty,
            (QueryTooLong, _) => ErrSearchTooLong,
            (BadRequest, Some("name")) => ErrGroupName,
            (BadRequest, Some("description")) => ErrDescription,
            (Forbidden, _) => ErrForbidden,
            (NotAccepting, _) => ErrNotAccepting,
            (ErrorCode::SignupClosed, _) => Msg::SignupClosed,
            (InviteRequired, _) => ErrInviteRequired,
            (InviteInvalid, _) => ErrInviteInvalid,
            (Conflict, Some("user_id")) => ErrAlreadyMember,
            (NotFound, Some("conversation")) => ErrNoSuchChat,
            _ => return None,
        })
    }

    /// Why the server refused a message the user sent.
    pub fn for_send_error(code: WsErrorCode) -> Msg {
        match code {
            WsErrorCode::NotMember => Msg::SendNotMember,
            WsErrorCode::TooLong | WsErrorCode::FrameTooLarge => Msg::SendTooLong,
            WsErrorCode::RateLimited => Msg::SendRateLimited,
            WsErrorCode::Retry => Msg::SendRetry,
            WsErrorCode::ContentRefused => Msg::SendRefused,
            WsErrorCode::NotAccepting => Msg::SendNotAccepting,
            _ => Msg::SendFailed,
        }
    }

    /// What to tell the user about a refused edit, delete, reaction or pin.
    pub fn for_change_error(code: WsErrorCode) -> Msg {
        match code {
            WsErrorCode::Forbidden | WsErrorCode::NotMember => Msg::ChangeForbidden,
            WsErrorCode::NoSuchMessage | WsErrorCode::MessageDeleted => Msg::ChangeGone,
            WsErrorCode::EditWindowClosed => Msg::ChangeWindowClosed,
            WsErrorCode::TooManyReactions => Msg::ChangeTooManyReactions,
            WsErrorCode::RateLimited => Msg::SendRateLimited,
            WsErrorCode::ContentRefused => Msg::SendRefused,
            _ => Msg::ChangeFailed,
        }
    }

    /// What to tell the user about a failed upload of a file for a message.
    pub fn for_upload_error(err: &ApiError) -> Option<Msg> {
        use ErrorCode::*;
        Some(match (err.code, err.field.as_deref()) {
            (PayloadTooLarge, _) => Msg::ErrFileTooLarge,
            (UnsupportedMediaType, _) => Msg::ErrFileKind,
            (BadRequest, Some("name")) => Msg::ErrFileName,
            (BadRequest, Some("body")) => Msg::ErrFileEmpty,
            (Forbidden, Some("recording")) => Msg::ErrRecording,
            _ => return Msg::for_error(err),
        })
    }

    /// What stands for a message that is not text; `None` for text.
    pub fn for_kind(kind: MessageKind) -> Option<Msg> {
        Some(match kind {
            MessageKind::Text => return None,
            MessageKind::Image => Msg::KindImage,
            MessageKind::Voice => Msg::KindVoice,
            MessageKind::Video => Msg::KindVideo,
            MessageKind::File => Msg::KindFile,
            MessageKind::VoiceCall => Msg::KindVoiceCall,
            MessageKind::VideoCall => Msg::KindVideoCall,
            MessageKind::LiveStream => Msg::KindLiveStream,
            // Folded into the message they change; never a line of their own.
            MessageKind::Edit
            | MessageKind::Delete
            | MessageKind::React
            | MessageKind::Unreact
            | MessageKind::Pin
            | MessageKind::Unpin => return None,
        })
    }

    /// The name of an emoji picker tab.
    pub fn for_emoji_group(group: EmojiGroup) -> Msg {
        match group {
            EmojiGroup::Smileys => Msg::EmojiSmileys,
            EmojiGroup::People => Msg::EmojiPeople,
            EmojiGroup::Animals => Msg::EmojiAnimals,
            EmojiGroup::Food => Msg::EmojiFood,
            EmojiGroup::Travel => Msg::EmojiTravel,
            EmojiGroup::Activities => Msg::EmojiActivities,
            EmojiGroup::Objects => Msg::EmojiObjects,
            EmojiGroup::Symbols => Msg::EmojiSymbols,
            EmojiGroup::Flags => Msg::EmojiFlags,
        }
    }

    pub fn for_status(status: Status) -> Msg {
        match status {
            Status::Online => Msg::Online,
            Status::Away => Msg::Away,
            Status::Busy => Msg::Busy,
            Status::Invisible => Msg::Invisible,
        }
    }

    pub fn for_presence(presence: Presence) -> Msg {
        match presence {
            Presence::Online => Msg::Online,
            Presence::Away => Msg::Away,
            Presence::Busy => Msg::Busy,
            Presence::Offline => Msg::Offline,
        }
    }

    pub fn for_role(role: Role) -> Msg {
        match role {
            Role::Owner => Msg::RoleOwner,
            Role::Admin => Msg::RoleAdmin,
            Role::Member => Msg::RoleMember,
        }
    }
}

/// The reactive language of the page, provided as context by [`provide_i18n`].
#[derive(Clone, Copy)]
pub struct I18n {
    locale: RwSignal<Locale>,
}

impl I18n {
    pub fn locale(&self) -> Locale {
        self.locale.get()
    }

    /// The text of `msg` in the current locale; reactive when read in a view.
    pub fn t(&self, msg: Msg) -> &'static str {
        msg.text(self.locale.get())
    }

    /// The text of `msg` as a view or attribute value that follows the language.
    ///
    /// Every label goes through this one closure type, so the reactive text
    /// code is compiled once for all of them rather than once per label
    /// (`move || i18n.t(..)` at each place is a type, and code, of its own).
    pub fn tr(self, msg: Msg) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
        move || self.t(msg)
    }

    /// What to tell the user about `err`; reactive like [`I18n::t`].
    pub fn error(&self, err: &ApiError) -> String {
        match Msg::for_error(err) {
            Some(msg) => self.t(msg).to_owned(),
            None => err.message.clone(),
        }
    }

    /// What to tell the user about a failed upload; reactive like [`I18n::t`].
    pub fn upload_error(&self, err: &ApiError) -> String {
        match Msg::for_upload_error(err) {
            Some(msg) => self.t(msg).to_owned(),
            None => err.message.clone(),
        }
    }

    /// A date and time in the user's time zone, written the locale's way.
    pub fn time(&self, ms: Millis) -> String {
        format_time(ms, self.locale.get(), TimeStyle::Full)
    }

    /// Just the time of day, "14:05": a message's time.
    pub fn clock(&self, ms: Millis) -> String {
        format_time(ms, self.locale.get(), TimeStyle::Clock)
    }

    /// A day separator: "Today", "Yesterday" or the full date.
    pub fn day(&self, ms: Millis) -> String {
        match local_day(crate::client::now_ms()) - local_day(ms) {
            0 => self.t(Msg::Today).to_owned(),
            1 => self.t(Msg::Yesterday).to_owned(),
            _ => format_time(ms, self.locale.get(), TimeStyle::Date),
        }
    }

    /// A conversation's last activity in the list: the time today, the date before.
    pub fn when(&self, ms: Millis) -> String {
        if local_day(crate::client::now_ms()) == local_day(ms) {
            self.clock(ms)
        } else {
            format_time(ms, self.locale.get(), TimeStyle::ShortDate)
        }
    }

    /// Switches the language and remembers the choice in a cookie.
    pub fn set_locale(&self, locale: Locale) {
        self.locale.set(locale);
        #[cfg(feature = "hydrate")]
        remember_choice(locale);
    }
}

pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

/// Decides the initial locale and provides [`I18n`] to the component tree.
pub fn provide_i18n() -> I18n {
    let i18n = I18n {
        locale: RwSignal::new(initial_locale()),
    };
    provide_context(i18n);
    i18n
}

#[cfg(feature = "ssr")]
fn initial_locale() -> Locale {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Locale::default();
    };
    let cookie_choice = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(LANG_COOKIE)?.strip_prefix('='))
        .and_then(Locale::from_tag);
    cookie_choice.unwrap_or_else(|| {
        let accept = parts
            .headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Locale::negotiate(accept)
    })
}

/// In the browser, the server's choice is already in `<html lang>`.
#[cfg(not(feature = "ssr"))]
fn initial_locale() -> Locale {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"))
            .and_then(|tag| Locale::from_tag(&tag))
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    Locale::default()
}

/// How much of a moment [`format_time`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeStyle {
    /// Date and time.
    Full,
    /// Hours and minutes.
    Clock,
    /// The date with the weekday.
    Date,
    /// Day and month.
    ShortDate,
}

const DAY_MS: i64 = 86_400_000;

/// The number of the day `ms` falls on in the user's time zone (days since
/// 1970-01-01 there), to tell whether two moments share a day.
#[cfg(feature = "hydrate")]
pub fn local_day(ms: Millis) -> i64 {
    // Minutes behind UTC on that date, so summer time counts.
    let offset_min = js_sys::Date::new(&(ms as f64).into()).get_timezone_offset();
    (ms - (offset_min * 60_000.0) as i64).div_euclid(DAY_MS)
}

/// Outside the browser the user's time zone is unknown: UTC.
#[cfg(not(feature = "hydrate"))]
pub fn local_day(ms: Millis) -> i64 {
    ms.div_euclid(DAY_MS)
}

#[cfg(feature = "hydrate")]
fn format_time(ms: Millis, locale: Locale, style: TimeStyle) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    let options = js_sys::Object::new();
    let set = |key: &str, value: &str| {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    };
    match style {
        TimeStyle::Full => return date.to_locale_string(locale.tag(), &wasm_bindgen::JsValue::UNDEFINED).into(),
        TimeStyle::Clock => {
            set("hour", "2-digit");
            set("minute", "2-digit");
            return date.to_locale_time_string_with_options(locale.tag(), &options).into();
        }
        TimeStyle::Date => {
            set("weekday", "long");
            set("year", "numeric");
            set("month", "long");
            set("day", "numeric");
        }
        TimeStyle::ShortDate => {
            set("month", "short");
            set("day", "numeric");
        }
    }
    date.to_locale_date_string(locale.tag(), &options).into()
}

/// Outside the browser the user's time zone is unknown: UTC, ISO-style.
/// (Pages with times render only in the browser; this keeps the server build whole.)
#[cfg(not(feature = "hydrate"))]
fn format_time(ms: Millis, _: Locale, style: TimeStyle) -> String {
    // Days to a civil date: Howard Hinnant's `civil_from_days`.
    let secs = ms.div_euclid(1000);
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (date, clock) = (format!("{year:04}-{month:02}-{day:02}"), format!("{:02}:{:02}", day_secs / 3600, day_secs % 3600 / 60));
    match style {
        TimeStyle::Full => format!("{date} {clock} UTC"),
        TimeStyle::Clock => clock,
        TimeStyle::Date | TimeStyle::ShortDate => date,
    }
}

#[cfg(feature = "hydrate")]
fn remember_choice(locale: Locale) {
    use wasm_bindgen::JsCast;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok());
    if let Some(doc) = doc {
        let cookie = format!("{LANG_COOKIE}={}; path=/; max-age=31536000; samesite=lax", locale.tag());
        let _ = doc.set_cookie(&cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_by_quality() {
        assert_eq!(Locale::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Locale::Zh);
        assert_eq!(Locale::negotiate("fr-FR,en;q=0.5,zh;q=0.4"), Locale::En);
        assert_eq!(Locale::negotiate("de, zh-Hans;q=0.7"), Locale::Zh);
        assert_eq!(Locale::negotiate(""), Locale::En);
        assert_eq!(Locale::negotiate("fr;q=oops"), Locale::En);
    }

    #[test]
    fn formats_utc_times_outside_the_browser() {
        assert_eq!(format_time(0, Locale::En, TimeStyle::Full), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(951_782_400_000, Locale::En, TimeStyle::Full), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_735_689_599_000, Locale::Zh, TimeStyle::Full), "2024-12-31 23:59 UTC");
        assert_eq!(format_time(1_735_689_599_000, Locale::En, TimeStyle::Clock), "23:59");
        assert_eq!(format_time(1_735_689_599_000, Locale::En, TimeStyle::Date), "2024-12-31");
        assert_eq!(local_day(1_735_689_599_000), local_day(1_735_689_599_000 - 86_399_000));
        assert_eq!(local_day(1_735_689_599_000) + 1, local_day(1_735_689_600_000));
    }

    #[test]
    fn localizes_errors_by_code_and_field() {
        let wrong = ApiError::new(ErrorCode::InvalidCredentials, "");
        assert_eq!(Msg::for_error(&wrong), Some(Msg::ErrInvalidCredentials));
        let current = wrong.clone().about("current_password");
        assert_eq!(Msg::for_error(&current), Some(Msg::ErrWrongCurrentPassword));
        let short = wire::api::check_password("short", "new_password").unwrap_err();
        assert_eq!(Msg::for_error(&short), Some(Msg::ErrPassword));
        assert_eq!(Msg::for_error(&ApiError::new(ErrorCode::NotFound, "no such user")), None);
    }

    /// The messages spell out limits that live in `api`: keep them in step.
    #[test]
    fn error_texts_match_the_limits() {
        use wire::api::{MAX_NICKNAME_CHARS, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
        for l in Locale::ALL {
            let nickname = Msg::ErrNickname.text(l);
            assert!(nickname.contains(&format!("1 到 {MAX_NICKNAME_CHARS}")) || nickname.contains(&format!("1 to {MAX_NICKNAME_CHARS}")));
            let password = Msg::ErrPassword.text(l);
            assert!(password.contains(&format!("{MIN_PASSWORD_CHARS} ")) && password.contains(&format!("{MAX_PASSWORD_CHARS} ")));
        }
    }

    #[test]
    fn chat_texts_match_the_limits() {
        use wire::{
            api::{MAX_DESCRIPTION_CHARS, MAX_GROUP_NAME_CHARS},
            protocol::MAX_TEXT_CHARS,
        };
        for l in Locale::ALL {
            assert!(Msg::ErrGroupName.text(l).contains(&format!(" {MAX_GROUP_NAME_CHARS} ")));
            assert!(Msg::ErrDescription.text(l).contains(&format!(" {MAX_DESCRIPTION_CHARS} ")));
            assert!(Msg::SendTooLong.text(l).contains(&format!(" {MAX_TEXT_CHARS} ")));
        }
    }

    #[test]
    fn tags_round_trip() {
        for l in Locale::ALL {
            assert_eq!(Locale::from_tag(l.tag()), Some(l));
        }
        assert_eq!(Locale::from_tag("zh_TW"), Some(Locale::Zh));
        assert_eq!(Locale::from_tag("x"), None);
    }
}
