//! Users' pictures: showing one, and uploading your own.

use leptos::prelude::*;

use super::form::{invalid, percent, Field, FormFeedback, FormState};
use crate::{
    client::{self, PickedFile},
    i18n::{use_i18n, Msg},
    session::use_session,
};

/// How many background colours letter avatars take (`.tint-0` … in the stylesheet).
const TINTS: u32 = 8;

/// The colour of a letter avatar: the same for an id everywhere (FNV-1a of it).
fn tint(seed: &str) -> String {
    let hash = seed.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("avatar tint-{}", hash % TINTS)
}

/// A user's round picture, or the first letter of their name when they have
/// none, on a colour drawn from their id (or from the name when not given).
#[component]
pub fn Avatar(
    #[prop(into)] url: Signal<Option<String>>,
    #[prop(into)] name: Signal<String>,
    #[prop(optional)] large: bool,
    /// The user's or group's id, which picks the letter's colour.
    #[prop(optional, into)]
    seed: Option<String>,
    /// Set on the `<img>` only, not on the letter.
    #[prop(optional)]
    testid: Option<&'static str>,
) -> impl IntoView {
    move || match url.get() {
        Some(src) => view! { <img class="avatar" class:large=large src=src alt="" data-testid=testid/> }.into_any(),
        None => {
            let initial = name.with(|n| {
                n.chars()
                    .next()
                    .map(|c| client::upper_case(c.encode_utf8(&mut [0; 4])))
                    .unwrap_or_default()
            });
            let class = tint(seed.as_deref().unwrap_or(&name.get()));
            view! { <span class=class class:large=large aria-hidden="true">{initial}</span> }.into_any()
        }
    }
}

/// The signed-in user's picture with a file input: a chosen picture shows at
/// once and uploads right away, with a progress bar; the server's copy then
/// replaces it.
#[component]
pub fn AvatarUpload() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let state = FormState::new(&["avatar"]);
    // The `blob:` URL of the chosen file while it is on its way.
    let preview = RwSignal::new(None::<String>);
    // The fraction uploaded; `None` before the first upload and after a failure.
    let progress = RwSignal::new(None::<f64>);

    let set_preview = move |url: Option<String>| {
        if let Some(old) = preview.get_untracked() {
            PickedFile::release_url(&old);
        }
        preview.set(url);
    };
    on_cleanup(move || set_preview(None));

    let on_change = move |ev: leptos::ev::Event| {
        let Some(file) = client::picked_file(&ev) else { return };
        set_preview(file.object_url());
        progress.set(Some(0.0));
        let upload = async move {
            let answer = client::upload_avatar(&file, move |sent| progress.set(Some(sent))).await;
            // Tiny files may finish without a single progress event.
            progress.set(answer.is_ok().then_some(1.0));
            set_preview(None);
            answer
        };
        state.run([], upload, move |me| session.signed_in(me));
    };

    let saved_url = Signal::derive(move || session.me().and_then(|me| me.avatar));
    let nickname = Signal::derive(move || session.me().map(|me| me.nickname).unwrap_or_default());
    let seed = session.me().map(|me| me.id.to_string()).unwrap_or_default();
    view! {
        <div class="avatar-upload">
            {move || match preview.get() {
                Some(src) => view! { <img class="avatar large" src=src alt="" data-testid="avatar-preview"/> }.into_any(),
                None => {
                    view! { <Avatar url=saved_url name=nickname large=true seed=seed.clone() testid="avatar-image"/> }
                        .into_any()
                }
            }}
            <div class="avatar-controls">
                <FormFeedback state/>
                <Field state name="avatar" label=Msg::ChooseAvatar>
                    <input
                        id="avatar"
                        type="file"
                        accept="image/png,image/jpeg,image/webp,image/gif"
                        data-testid="avatar-input"
                        aria-invalid=invalid(state, "avatar")
                        disabled=move || state.pending()
                        on:change=on_change
                    />
                </Field>
                <p class="hint">{i18n.tr(Msg::AvatarHint)}</p>
                <Show when=move || progress.get().is_some()>
                    <progress
                        data-testid="avatar-progress"
                        max="100"
                        value=move || percent(progress.get().unwrap_or_default())
                        aria-label=i18n.tr(Msg::UploadProgress)
                    ></progress>
                </Show>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_always_takes_the_same_tint() {
        assert_eq!(tint("u1"), tint("u1"));
        let tints: std::collections::HashSet<_> = (0..64).map(|n| tint(&format!("user{n}"))).collect();
        assert_eq!(tints.len(), TINTS as usize);
    }
}
