//! Light and dark: the page follows the system's setting unless the user
//! picked one, which this browser remembers. The choice is written into
//! `<html data-theme>`; the stylesheet's colours follow it (`light-dark()`).

use leptos::prelude::*;

use super::icons::{Icon, Svg};
use crate::{
    client,
    i18n::{use_i18n, Msg},
};

/// Where this browser keeps the choice.
const THEME_KEY: &str = "natter_theme";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    fn name(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The value of `<html data-theme>`: none while following the system.
    pub fn attribute(self) -> Option<&'static str> {
        (self != Theme::System).then(|| self.name())
    }
}

/// The page's theme, provided as context by [`provide_theme`].
#[derive(Clone, Copy)]
pub struct Themes(RwSignal<Theme>);

impl Themes {
    pub fn get(self) -> Theme {
        self.0.get()
    }

    fn set(self, theme: Theme) {
        self.0.set(theme);
        client::remember(THEME_KEY, theme.name());
    }
}

/// Starts with the system's theme (as the server rendered it), then takes
/// this browser's choice once the page runs.
pub fn provide_theme() -> Themes {
    let themes = Themes(RwSignal::new(Theme::System));
    Effect::new(move |_| {
        let saved = client::recall(THEME_KEY);
        if let Some(theme) = Theme::ALL.into_iter().find(|t| saved.as_deref() == Some(t.name())) {
            themes.0.set(theme);
        }
    });
    provide_context(themes);
    themes
}

/// Three buttons: as the system, light, dark.
#[component]
pub fn ThemeSwitch() -> impl IntoView {
    let i18n = use_i18n();
    let themes = expect_context::<Themes>();
    let button = move |theme: Theme, label: Msg, icon: Option<Icon>| {
        view! {
            <button
                type="button"
                class="segment"
                data-testid=format!("theme-{}", theme.name())
                aria-pressed=move || (themes.get() == theme).to_string()
                on:click=move |_| themes.set(theme)
            >
                {icon.map(|icon| view! { <Svg icon/> })}
                <span>{i18n.tr(label)}</span>
            </button>
        }
    };
    view! {
        <div class="segments" role="group" aria-label=i18n.tr(Msg::Theme)>
            {button(Theme::System, Msg::ThemeSystem, None)}
            {button(Theme::Light, Msg::ThemeLight, Some(Icon::Sun))}
            {button(Theme::Dark, Msg::ThemeDark, Some(Icon::Moon))}
        </div>
    }
}
