//! Which container refit itself runs in, if any: it must update that one last, and by the
//! self-update path (it cannot stop itself and go on). The engine mounts the container's
//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` from
//! `/var/lib/docker/containers/<id>/`, so `/proc/self/mountinfo` names the id under cgroup v1
//! and v2 alike (`/proc/self/cgroup` shows it only under v1); a hostname the operator set does
//! not hide it either.

use std::path::Path;

/// The 64-hex id of the container this process runs in, read from the mount table at `path`
/// (`/proc/self/mountinfo`); `None` outside a container or when it cannot be read.
pub fn detect(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| from_mountinfo(&text))
}

/// The container id in a mount table: the `<id>` of a `.../containers/<id>/hostname` (or
/// `hosts`, `resolv.conf`) mount source.
pub fn from_mountinfo(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.split_whitespace().find_map(|field| {
            let rest = field.split("/containers/").nth(1)?;
            let (id, file) = rest.split_once('/')?;
            let mounted = matches!(file, "hostname" | "hosts" | "resolv.conf");
            (mounted && is_container_id(id)).then(|| id.to_string())
        })
    })
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1d4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

    #[test]
    fn the_hostname_mount_names_the_container() {
        let mountinfo = format!(
            "715 696 0:63 / / rw,relatime master:297 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC\n\
             731 715 254:1 /var/lib/docker/containers/{ID}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw\n\
             732 715 254:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw\n"
        );
        assert_eq!(from_mountinfo(&mountinfo).as_deref(), Some(ID));
    }

    #[test]
    fn a_data_root_elsewhere_still_matches() {
        let line =
            format!("1 2 254:1 /srv/docker/containers/{ID}/hosts /etc/hosts rw - ext4 /dev/vda rw");
        assert_eq!(from_mountinfo(&line).as_deref(), Some(ID));
    }

    #[test]
    fn a_host_mount_table_names_no_container() {
        let host = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                    30 22 0:25 / /sys rw - sysfs sysfs rw\n\
                    40 22 254:1 /var/lib/docker/containers /var/lib/docker/containers rw - ext4 /dev/vda rw\n";
        assert_eq!(from_mountinfo(host), None);
        // A volume under a container's folder is no hostname mount.
        let volume =
            format!("1 2 254:1 /var/lib/docker/containers/{ID}/mounts /m rw - ext4 /dev/vda rw");
        assert_eq!(from_mountinfo(&volume), None);
        assert_eq!(
            from_mountinfo("1 2 3 /containers/abc/hostname /etc/hostname"),
            None
        );
    }

    #[test]
    fn an_unreadable_table_is_no_container() {
        assert_eq!(detect(Path::new("/nonexistent/mountinfo")), None);
    }
}
