//! A picture of the curve: the window's screenshot of the next frame, cut to the curve,
//! encoded as PNG and saved atomically in a short-lived thread, off the window's frames.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::Instant;

use super::PngExport;

/// Asks the window for a picture once the frames have settled; the reply comes through
/// `sender` (the picture is cut to `rect`, encoded and saved in another thread).
pub fn take_picture(
    ctx: &egui::Context,
    png: &mut PngExport,
    rect: egui::Rect,
    sender: &Sender<Result<PathBuf, String>>,
) {
    if png.asked.is_some() {
        return;
    }
    if png.wait_frames > 0 {
        png.wait_frames -= 1;
        ctx.request_repaint();
        return;
    }
    png.asked = Some(Instant::now());
    let (path, sender, waker) = (png.path.clone(), sender.clone(), ctx.clone());
    let rect = rect.expand(6.0);
    let pixels_per_point = ctx.pixels_per_point();
    ctx.request_screenshot(move |image| {
        // Encoding and writing take a while for a big window: not on the window's thread.
        let work = move || {
            let saved = png_of(&image, rect, pixels_per_point).and_then(|bytes| {
                crate::model::io::write_atomically(&path, &bytes)
                    .map_err(|e| format!("Cannot save {}: {e}", path.display()))
            });
            let _ = sender.send(saved.map(|()| path));
            waker.request_repaint();
        };
        if let Err(e) = std::thread::Builder::new()
            .name("picture".to_owned())
            .spawn(work)
        {
            // The closure is gone with the failed spawn; the panel's timeout says so.
            eprintln!("cannot start a thread to save the picture: {e}");
        }
    });
}

/// The part of `image` under `rect` (in points), as PNG bytes.
pub fn png_of(
    image: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
) -> Result<Vec<u8>, String> {
    let [w, h] = image.size;
    let px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, y0, x1, y1) = (
        px(rect.min.x, w),
        px(rect.min.y, h),
        px(rect.max.x, w),
        px(rect.max.y, h),
    );
    if x1 <= x0 || y1 <= y0 {
        return Err("The curve was not on screen when the picture was taken".to_owned());
    }
    let part = image.region_by_pixels([x0, y0], [x1 - x0, y1 - y0]);
    let rgba: Vec<u8> = part
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, (x1 - x0) as u32, (y1 - y0) as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let encoded = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&rgba).and_then(|()| w.finish()));
    encoded.map_err(|e| format!("Cannot encode the picture: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_cut_to_its_rectangle_and_encoded() {
        let mut image = egui::ColorImage::filled([40, 30], egui::Color32::BLACK);
        image.pixels[10 * 40 + 12] = egui::Color32::from_rgb(200, 10, 20);
        // Two pixels per point: points (6, 5)–(16, 10) are pixels (12, 10)–(32, 20).
        let rect = egui::Rect::from_min_max(egui::pos2(6.0, 5.0), egui::pos2(16.0, 10.0));
        let bytes = png_of(&image, rect, 2.0).expect("encoded");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        assert_eq!((info.width, info.height), (20, 10));
        assert_eq!(
            &buf[..4],
            &[200, 10, 20, 255],
            "the top-left pixel is the red one"
        );
        // Off screen: said, not a panic.
        let away = egui::Rect::from_min_max(egui::pos2(100.0, 100.0), egui::pos2(120.0, 120.0));
        assert!(png_of(&image, away, 1.0).is_err());
    }
}
