// The seed's library functions as a loadable script. The docker.sock volume is left out: there is no
// Docker daemon here. The maven-settings secret and the maven-local-repo claim must exist.
def dockerTemplate(body) {
  podTemplate(
    containers: [containerTemplate(name: 'docker', image: 'docker', command: 'cat', ttyEnabled: true)]) {
    body()
  }
}

def mavenTemplate(body) {
  podTemplate(
    containers: [containerTemplate(name: 'maven', image: 'maven', command: 'cat', ttyEnabled: true)],
    volumes: [secretVolume(secretName: 'maven-settings', mountPath: '/root/.m2'),
              persistentVolumeClaim(claimName: 'maven-local-repo', mountPath: '/root/.m2nrepo')]) {
    body()
  }
}

return this
