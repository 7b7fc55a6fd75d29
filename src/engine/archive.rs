//! Re-rooting the tar the engine's archive API returns, so that a path copied out of one
//! container can be put into another whatever directories the second one lacks. Pure: bytes
//! in, bytes out; no bollard.
//!
//! `GET /containers/{id}/archive?path=/etc/app/app.conf` answers a tar whose entries are
//! relative to the path's parent (`app.conf`), and `PUT .../archive?path=<dir>` needs `<dir>`
//! to exist. Compose creates the parents of a `configs:` target itself (it uploads to `/`), so
//! the successor's image may well lack them: the entries are renamed to their full path
//! (`etc/app/app.conf`) and uploaded to `/`, where the engine creates missing parents.

use std::io::{self, Read};
use std::path::Path;

/// The tar `archive` (entries relative to `parent`) with every entry's path made relative to
/// `/` instead. Each header is kept (type, mode, owner, times, link target): it is what carries
/// the file's owner and mode across.
pub fn reroot(archive: &[u8], parent: &str) -> io::Result<Vec<u8>> {
    let parent = Path::new(parent.trim_start_matches('/'));
    let mut reader = tar::Archive::new(archive);
    let mut builder = tar::Builder::new(Vec::new());
    for entry in reader.entries()? {
        let mut entry = entry?;
        let path = parent.join(entry.path()?);
        let mut header = entry.header().clone();
        match entry.link_name()? {
            Some(target) => {
                let target = target.into_owned();
                builder.append_link(&mut header, &path, target)?;
            }
            None => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                builder.append_data(&mut header, &path, data.as_slice())?;
            }
        }
    }
    builder.into_inner()
}

/// The directory a path's tar is relative to: `/etc/app` for `/etc/app/app.conf`, `/` for
/// `/app.conf`.
pub fn parent_of(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((parent, _)) => parent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, uid: u64, body: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(uid);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, body).unwrap();
    }

    #[test]
    fn entries_move_under_the_parent_keeping_mode_owner_and_content() {
        let mut builder = tar::Builder::new(Vec::new());
        file(&mut builder, "app.conf", 0o640, 101, b"port=80\n");
        let archive = builder.into_inner().unwrap();

        let moved = reroot(&archive, "/etc/app").unwrap();
        let mut reader = tar::Archive::new(moved.as_slice());
        let mut entries = reader.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap(), Path::new("etc/app/app.conf"));
        assert_eq!(entry.header().mode().unwrap(), 0o640);
        assert_eq!(entry.header().uid().unwrap(), 101);
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        assert_eq!(body, "port=80\n");
        assert!(entries.next().is_none());
    }

    #[test]
    fn a_directory_and_a_symlink_keep_their_kind() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o750);
        dir.set_size(0);
        builder.append_data(&mut dir, "x/", io::empty()).unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        builder.append_link(&mut link, "x/current", "v1").unwrap();
        let moved = reroot(&builder.into_inner().unwrap(), "/srv").unwrap();

        let mut reader = tar::Archive::new(moved.as_slice());
        let kinds: Vec<_> = reader
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e.link_name().unwrap().map(|l| l.display().to_string());
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                    link,
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("srv/x/".to_string(), tar::EntryType::Directory, None),
                (
                    "srv/x/current".to_string(),
                    tar::EntryType::Symlink,
                    Some("v1".to_string())
                ),
            ]
        );
    }

    #[test]
    fn the_parent_of_a_path() {
        assert_eq!(parent_of("/etc/app/app.conf"), "/etc/app");
        assert_eq!(parent_of("/app.conf"), "/");
        assert_eq!(parent_of("/srv/x/"), "/srv");
    }
}
