//! The one place user-facing text comes from.
//!
//! Every string the UI shows is a [`Msg`]; each message holds its English and
//! Simplified Chinese text side by side, so a missing translation cannot
//! compile. The server picks the locale from the `natter_lang` cookie, then
//! `Accept-Language`, and renders it into `<html lang>`; the browser starts from
//! that attribute (so hydration matches) and may switch at any time.

use leptos::prelude::*;

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
    fn tags_round_trip() {
        for l in Locale::ALL {
            assert_eq!(Locale::from_tag(l.tag()), Some(l));
        }
        assert_eq!(Locale::from_tag("zh_TW"), Some(Locale::Zh));
        assert_eq!(Locale::from_tag("x"), None);
    }
}
