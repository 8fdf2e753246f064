//! Where imgtool keeps its files on the user's machine (never the daemon's).

use std::path::PathBuf;

/// `$<override_var>`, else (on Windows) `%LOCALAPPDATA%\imgtool[\<windows_sub>]`,
/// inside the user's profile, whose ACL keeps other users out; else
/// `$<xdg_var>/imgtool`, else `~/<home_dir>/imgtool`.
pub fn user_dir(
    override_var: &str,
    xdg_var: &str,
    home_dir: &str,
    #[cfg_attr(not(windows), allow(unused_variables))] windows_sub: Option<&str>,
) -> PathBuf {
    if let Some(dir) = std::env::var_os(override_var) {
        return dir.into();
    }
    #[cfg(windows)]
    if let Some(dir) = std::env::var_os("LOCALAPPDATA") {
        let dir = PathBuf::from(dir).join("imgtool");
        return match windows_sub {
            Some(sub) => dir.join(sub),
            None => dir,
        };
    }
    if let Some(dir) = std::env::var_os(xdg_var) {
        return PathBuf::from(dir).join("imgtool");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(home_dir).join("imgtool")
}
