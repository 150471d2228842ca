//! Recording voice notes and video clips in the browser with MediaRecorder.
//! The server build links the inert stand-in, like [`crate::client`].

#[cfg(feature = "hydrate")]
pub use browser::Recorder;
#[cfg(not(feature = "hydrate"))]
pub use inert::Recorder;

/// The file name a recording of `mime` gets, from its start time.
pub fn file_name(video: bool, mime: &str, started_ms: i64) -> String {
    let ext = match mime.split(';').next().unwrap_or_default() {
        m if m.ends_with("/ogg") => "ogg",
        m if m.ends_with("/mp4") => "mp4",
        _ => "webm",
    };
    format!("{}-{started_ms}.{ext}", if video { "video" } else { "voice" })
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, rc::Rc};

    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Blob, BlobEvent, BlobPropertyBag, MediaRecorder, MediaStream, MediaStreamConstraints};

    use wire::protocol::{ApiError, ErrorCode};
    use crate::client::{now_ms, PickedFile};

    /// A recording in progress: the microphone (and camera) stay on until
    /// [`Recorder::finish`] or [`Recorder::cancel`].
    pub struct Recorder {
        recorder: MediaRecorder,
        stream: MediaStream,
        chunks: Rc<RefCell<Vec<Blob>>>,
        video: bool,
        started_ms: i64,
        _on_data: Closure<dyn FnMut(BlobEvent)>,
    }

    /// Field `recording`, which the UI tells apart from upload errors.
    fn refused(e: JsValue) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, format!("cannot record: {e:?}")).about("recording")
    }

    impl Recorder {
        /// Asks for the microphone (and the camera for `video`) and starts recording.
        pub async fn start(video: bool) -> Result<Recorder, ApiError> {
            let devices = web_sys::window()
                .ok_or_else(|| refused(JsValue::NULL))?
                .navigator()
                .media_devices()
                .map_err(refused)?;
            let constraints = MediaStreamConstraints::new();
            constraints.set_audio(&JsValue::TRUE);
            constraints.set_video(&JsValue::from_bool(video));
            let stream: MediaStream = JsFuture::from(devices.get_user_media_with_constraints(&constraints).map_err(refused)?)
                .await
                .map_err(refused)?
                .unchecked_into();
            let recorder = MediaRecorder::new_with_media_stream(&stream).map_err(refused)?;
            let chunks = Rc::new(RefCell::new(Vec::new()));
            let sink = chunks.clone();
            let on_data = Closure::<dyn FnMut(BlobEvent)>::new(move |ev: BlobEvent| {
                if let Some(data) = ev.data() {
                    sink.borrow_mut().push(data);
                }
            });
            recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
            recorder.start().map_err(refused)?;
            Ok(Recorder { recorder, stream, chunks, video, started_ms: now_ms(), _on_data: on_data })
        }

        pub fn started_ms(&self) -> i64 {
            self.started_ms
        }

        /// Shows what the camera sees in `video`, while recording.
        pub fn preview_in(&self, video: &web_sys::HtmlVideoElement) {
            video.set_src_object(Some(&self.stream));
        }

        /// Stops and returns the recording with its length in milliseconds.
        pub async fn finish(self) -> Result<(PickedFile, u64), ApiError> {
            let stopped = js_sys::Promise::new(&mut |resolve, _| self.recorder.set_onstop(Some(&resolve)));
            self.recorder.stop().map_err(refused)?;
            JsFuture::from(stopped).await.map_err(refused)?;
            let duration = (now_ms() - self.started_ms).max(0) as u64;
            self.release();
            let mime = self.recorder.mime_type();
            let parts = js_sys::Array::new();
            for chunk in self.chunks.borrow().iter() {
                parts.push(chunk);
            }
            let options = BlobPropertyBag::new();
            options.set_type(&mime);
            let blob = Blob::new_with_blob_sequence_and_options(&parts, &options).map_err(refused)?;
            let name = super::file_name(self.video, &mime, self.started_ms);
            Ok((PickedFile::new(blob, name), duration))
        }

        /// Stops without keeping anything.
        pub fn cancel(self) {
            let _ = self.recorder.stop();
            self.release();
        }

        /// Turns the microphone and camera off.
        fn release(&self) {
            for track in self.stream.get_tracks().iter() {
                track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
            }
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod inert {
    use wire::protocol::{ApiError, ErrorCode};
    use crate::client::PickedFile;

    /// Cannot exist outside the browser.
    pub enum Recorder {}

    impl Recorder {
        pub async fn start(_: bool) -> Result<Recorder, ApiError> {
            Err(ApiError::new(ErrorCode::Internal, "recording runs only in the browser"))
        }

        pub fn started_ms(&self) -> i64 {
            match *self {}
        }

        pub fn preview_in(&self, _: &leptos::web_sys::HtmlVideoElement) {
            match *self {}
        }

        pub async fn finish(self) -> Result<(PickedFile, u64), ApiError> {
            match self {}
        }

        pub fn cancel(self) {
            match self {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recordings_are_named_by_kind_and_container() {
        assert_eq!(super::file_name(false, "audio/webm;codecs=opus", 5), "voice-5.webm");
        assert_eq!(super::file_name(true, "video/mp4", 7), "video-7.mp4");
        assert_eq!(super::file_name(false, "audio/ogg", 1), "voice-1.ogg");
    }
}
