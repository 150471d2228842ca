//! `/devices`: where the account is signed in, and signing any of them out.

use leptos::prelude::*;
use wire::{api::DeviceInfo, endpoint};

use super::form::{ActionButton, FormFeedback, FormState};
use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

/// Shown inside `RequireUser`.
#[component]
pub fn Devices() -> impl IntoView {
    let i18n = use_i18n();
    let state = FormState::new(&[]);
    let devices = RwSignal::new(None::<Vec<DeviceInfo>>);
    state.run([], client::get(endpoint::DEVICES), move |list| devices.set(Some(list)));

    let sign_out = move |device: DeviceInfo| {
        let path = endpoint::device(&device.device_id);
        let request = async move { client::call::<()>(Method::Delete, &path).await };
        state.run([], request, move |()| {
            if device.current {
                client::reload_at("/signin");
            } else {
                devices.update(|list| {
                    list.iter_mut()
                        .for_each(|l| l.retain(|d| d.device_id != device.device_id))
                });
            }
        });
    };

    let row = move |device: DeviceInfo| {
        let DeviceInfo {
            user_agent,
            signed_in_ms,
            last_seen_ms,
            current,
            ..
        } = device.clone();
        let name = describe_agent(&user_agent).unwrap_or_else(|| user_agent.clone());
        view! {
            <li class="row" data-testid="device-row" data-current=current.to_string()>
                <div class="row-main">
                    <p class="row-title" title=user_agent>
                        {name}
                        {current.then(|| view! { <span class="badge">{i18n.tr(Msg::ThisDevice)}</span> })}
                    </p>
                    <p class="muted">
                        {move || format!("{}: {}", i18n.t(Msg::SignedInAt), i18n.time(signed_in_ms))}
                        <br/>
                        {move || format!("{}: {}", i18n.t(Msg::LastSeen), i18n.time(last_seen_ms))}
                    </p>
                </div>
                <ActionButton
                    state
                    label=Msg::SignOut
                    testid="device-signout"
                    secondary=true
                    on_click=move || sign_out(device.clone())
                />
            </li>
        }
    };

    view! {
        <section class="card wide">
            <h1>{i18n.tr(Msg::DevicesTitle)}</h1>
            <p class="muted">{i18n.tr(Msg::DevicesIntro)}</p>
            <FormFeedback state/>
            {move || match devices.get() {
                None => view! { <p class="muted">{i18n.tr(Msg::Loading)}</p> }.into_any(),
                Some(list) => view! { <ul class="rows">{list.into_iter().map(row).collect_view()}</ul> }.into_any(),
            }}
        </section>
    }
}

/// "Browser · system" from a browser's User-Agent, or `None` for other clients.
fn describe_agent(ua: &str) -> Option<String> {
    // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Safari/", "Safari"),
    ];
    // Android and ChromeOS also say Linux; iPhones say "like Mac OS X".
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(key, _)| ua.contains(key))?.1;
    Some(match SYSTEMS.iter().find(|(key, _)| ua.contains(key)) {
        Some((_, system)) => format!("{browser} · {system}"),
        None => browser.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::describe_agent;

    #[test]
    fn names_common_browsers() {
        let chrome_linux =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(describe_agent(chrome_linux).as_deref(), Some("Chrome · Linux"));
        let safari_iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_agent(safari_iphone).as_deref(), Some("Safari · iOS"));
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0";
        assert_eq!(describe_agent(edge).as_deref(), Some("Edge · Windows"));
        assert_eq!(describe_agent("natter-cli/0.1"), None);
    }
}
